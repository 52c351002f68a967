#!/usr/bin/python3
"""Writes internal/rules/pickle_libraries.yaml: allow rules derived from the
libraries' own source, by principle rather than by listing what a corpus
happened to contain.

    /usr/bin/python3 internal/gen/allowgen/allowgen.py [-o internal/rules/pickle_libraries.yaml] [--replace]
    go generate ./internal/rules

It imports the installed torch, numpy, scipy, scikit-learn and onnx (on
Debian: python3-torch, python3-numpy, python3-scipy, python3-sklearn,
python3-onnx) and lists, for each rule, the exact "module:qualname" that
pickle writes for every object the principle admits. By default it adds to
the existing file (a union), so running it under several versions of a
library vouches for the classes of each; --replace starts afresh.

The principles (docs/pickle.md, "Library allow rules"):

- A class is allowed where it is *defined* (cls.__module__), never under a
  module that merely imports it: torch.ao.quantization.observer imports
  functools.partial, and a rule "torch.ao.quantization.*:*" allowed
  functools.partial under that alias.
- torch: every nn.Module subclass torch defines (except torch.fx
  GraphModule subclasses, whose constructors generate and exec Python
  code, and DistributedDataParallel, whose __setstate__ joins the process
  group), every Optimizer and learning-rate scheduler, the classes torch's
  module utilities store on modules (hooks, pruning methods,
  parametrizations, quantisation configs), and torch.ScriptObject
  (TorchScript classes registered in C++).
- Functions are allowed only as pure numeric computations: every numpy and
  scipy.special ufunc, numpy's reductions (numpy.core.fromnumeric,
  numpy.lib.nanfunctions), every function of torch.nn.functional, the
  metrics and score functions scikit-learn takes as parameters, and the
  callables scikit-learn's constructors use as defaults.
- Data classes of numpy (ndarray subclasses but memmap, scalar types,
  masked arrays, polynomials), scipy's computational subpackages, every
  class scikit-learn defines outside its dataset, test and tooling
  modules, and onnx's protobuf messages.
"""

import argparse
import importlib
import inspect
import io
import json
import os
import pickle
import pickletools
import pkgutil
import sys
import types
import warnings

warnings.filterwarnings("ignore")

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.normpath(os.path.join(HERE, "..", "..", "rules", "pickle_libraries.yaml"))


def modules_under(pkg, skip=()):
    """Every importable module of a package, skipping tests and the
    prefixes given."""
    try:
        root = importlib.import_module(pkg)
    except Exception:
        return []
    out = [root]
    if not hasattr(root, "__path__"):
        return out
    for info in pkgutil.walk_packages(root.__path__, pkg + ".", onerror=lambda n: None):
        name = info.name
        parts = name.split(".")
        if any(p in ("tests", "test", "testing", "conftest", "benchmarks") for p in parts):
            continue
        if any(name == s or name.startswith(s + ".") for s in skip):
            continue
        try:
            out.append(importlib.import_module(name))
        except Exception:
            continue
    return out


def defined_classes(mods, pred=lambda c: True):
    """Classes defined in the given modules (cls.__module__ is the module),
    by the name pickle writes for them."""
    out = set()
    for mod in mods:
        for n, c in list(vars(mod).items()):
            if inspect.isclass(c) and c.__module__ == mod.__name__ and pred(c):
                if "<locals>" in c.__qualname__:
                    continue
                out.add("%s:%s" % (c.__module__, c.__qualname__))
    return out


# ---- what pickle writes ------------------------------------------------------


def written_imports(obj):
    """The imports pickle writes for obj under protocols 2 and 4, with
    getattr(import, "name") read as the dotted import it resolves to (the
    form pickle uses for methods of builtin classes)."""
    out = set()
    for proto in (2, 4):
        try:
            data = pickle.dumps(obj, protocol=proto)
        except Exception:
            continue
        stack, memo, marks = [], {}, []
        for op, arg, _ in pickletools.genops(data):
            n = op.name
            if n == "GLOBAL":
                mod, name = arg.split(" ", 1)
                stack.append(("g", mod, name))
            elif n in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE", "BINUNICODE8", "SHORT_BINSTRING", "BINSTRING", "STRING"):
                stack.append(("s", arg))
            elif n == "STACK_GLOBAL":
                name, mod = stack.pop(), stack.pop()
                stack.append(("g", mod[1], name[1]))
            elif n in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[arg] = stack[-1]
            elif n == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif n in ("BINGET", "LONG_BINGET", "GET"):
                stack.append(memo[arg])
            elif n == "MARK":
                marks.append(len(stack))
            elif n == "TUPLE2":
                b, a = stack.pop(), stack.pop()
                stack.append(("t", a, b))
            elif n == "TUPLE1":
                stack.append(("t", stack.pop()))
            elif n == "REDUCE":
                args, fn = stack.pop(), stack.pop()
                if fn[0] == "g" and fn[1] in ("builtins", "__builtin__") and fn[2] == "getattr" and args[0] == "t" and len(args) == 3 \
                        and args[1][0] == "g" and args[2][0] == "s":
                    stack.append(("g", args[1][1], args[1][2] + "." + args[2][1]))
                else:
                    stack.append(("x",))
            elif n in ("PROTO", "FRAME", "STOP"):
                pass
            else:
                return set()  # not a plain reference
        for v in stack:
            if v[0] == "g":
                out.add("%s:%s" % (v[1], v[2]))
    return {g.replace("__builtin__:", "builtins:") for g in out}


def where_defined(obj, name, roots):
    """Every module among the loaded ones under roots that holds obj under
    name: pickle.whichmodule takes the first in sys.modules order, which
    depends on import order."""
    out = set()
    for mn, mod in list(sys.modules.items()):
        if mod is None or not any(mn == r or mn.startswith(r + ".") for r in roots):
            continue
        try:
            if getattr(mod, name, None) is obj:
                out.add("%s:%s" % (mn, name))
        except Exception:
            pass
    return out


# ---- torch -------------------------------------------------------------------


def torch_rules():
    import torch
    import torch.nn as nn
    from torch.optim import lr_scheduler
    try:
        from torch.fx import GraphModule
    except ImportError:
        GraphModule = ()
    try:
        from torch.nn.parallel import DistributedDataParallel as DDP
    except ImportError:
        DDP = ()

    nn_pkgs = ["torch.nn", "torch.ao.nn", "torch.ao.quantization", "torch.optim", "torch.quantization", "torch.ao.pruning",
               "torch.ao.sparsity"]
    mods = []
    for p in nn_pkgs:
        mods += modules_under(p)

    def is_module(c):
        return issubclass(c, nn.Module) and not (GraphModule and issubclass(c, GraphModule)) and not (DDP and issubclass(c, DDP))
    modules = defined_classes(mods, is_module)
    # Classes of other torch packages that are nn.Modules (torch.nn.utils
    # is walked above; torch.jit's RecursiveScriptModule is not data).
    sched_base = tuple(c for c in (getattr(lr_scheduler, "_LRScheduler", None), getattr(lr_scheduler, "LRScheduler", None),
                                   getattr(lr_scheduler, "ReduceLROnPlateau", None)) if c is not None)
    optim = defined_classes(modules_under("torch.optim"), lambda c: issubclass(c, torch.optim.Optimizer) or issubclass(c, sched_base))
    scalers = set()
    for p in ("torch.cuda.amp.grad_scaler", "torch.amp.grad_scaler", "torch.cpu.amp.grad_scaler"):
        try:
            scalers |= defined_classes([importlib.import_module(p)], lambda c: c.__name__ == "GradScaler")
        except ImportError:
            pass

    # What torch's module utilities store on modules: hook handles and
    # wrapped hooks, weight/spectral norm hooks, pruning methods,
    # parametrizations, packed sequences.
    util_mods = modules_under("torch.nn.utils") + [importlib.import_module("torch.utils.hooks"), importlib.import_module("torch.nn.modules.module")]
    state = defined_classes(util_mods, lambda c: not issubclass(c, BaseException) and not (GraphModule and issubclass(c, GraphModule)))
    # Quantisation configuration stored on prepared models (qconfig
    # namedtuples, observer factories, quantisation types and mappings).
    qmods = []
    for p in ("torch.ao.quantization.qconfig", "torch.ao.quantization.qconfig_mapping", "torch.ao.quantization.observer",
              "torch.ao.quantization.fake_quantize", "torch.ao.quantization.quant_type", "torch.ao.quantization.utils",
              "torch.ao.quantization.backend_config"):
        qmods += modules_under(p)
    qconfig = defined_classes(qmods, lambda c: not issubclass(c, BaseException) and not (GraphModule and issubclass(c, GraphModule)))

    # Every function of torch.nn.functional, as pickle writes it (builtin
    # ones live in torch._C._nn or are methods of torch._C's
    # _VariableFunctionsClass, written as getattr of the class).
    import torch.nn.functional as F
    functional = set()
    holders = set()
    for n in dir(F):
        if n.startswith("_"):
            continue
        f = getattr(F, n)
        if inspect.isclass(f) or isinstance(f, types.ModuleType) or not callable(f):
            continue
        mod = getattr(f, "__module__", None) or ""
        if not (mod.startswith("torch.nn.functional") or mod.startswith("torch._C") or mod == "torch" or isinstance(f, types.BuiltinFunctionType)):
            continue  # imported helpers (typing, torch.overrides, ...)
        if n in ("has_torch_function", "has_torch_function_unary", "has_torch_function_variadic", "handle_torch_function", "boolean_dispatch"):
            continue
        for g in written_imports(f):
            functional.add(g)
            mod, name = g.split(":", 1)
            if "." in name:
                holders.add("%s:%s" % (mod, name.split(".")[0]))
    script = {"torch:ScriptObject", "torch._C:ScriptObject"}
    return [
        ("allow-torch-module-classes",
         "Every nn.Module subclass torch defines (torch.nn, torch.ao.nn, torch.ao.quantization, torch.optim), by its defining module; "
         "rebuilt without running their constructors when a whole module is saved. torch.fx GraphModule subclasses (their constructors "
         "generate and exec Python code) and DistributedDataParallel (its __setstate__ joins the process group) are left out.",
         modules),
        ("allow-torch-optim-classes",
         "Every Optimizer and learning-rate scheduler class torch.optim defines, and the AMP GradScaler: saved whole or inside a training checkpoint.",
         optim | scalers),
        ("allow-torch-module-state",
         "Classes torch's module utilities store on modules: hook handles and wrapped hooks (Lazy modules), weight and spectral norm hooks, "
         "pruning methods, parametrizations, packed sequences (every class torch.nn.utils and torch.utils.hooks define).",
         state),
        ("allow-torch-quantization-config",
         "Quantisation configuration that prepared and quantised models carry: QConfig tuples, observer factories (_PartialWrapper), "
         "quantisation types, backend and qconfig mappings.",
         qconfig),
        ("allow-torch-functional",
         "Functions of torch.nn.functional as pickle writes them (a module stores one as its activation or distance function): pure "
         "tensor computations. Their builtin holder classes are allowed too, since pickle reaches a builtin method as getattr of its class.",
         functional | holders),
        ("allow-torchscript-objects",
         "torch.ScriptObject rebuilds a TorchScript class registered in C++ (torch.classes, e.g. quantised packed parameters) from its state; "
         "no Python code is involved.",
         script),
    ]


# ---- numpy and scipy -------------------------------------------------------------


def numpy_rules():
    import numpy as np
    import numpy.ma  # noqa: F401
    import numpy.polynomial  # noqa: F401
    import scipy.special as sps

    roots = ["numpy"]
    ufuncs = set()
    for n in dir(np):
        u = getattr(np, n)
        if isinstance(u, np.ufunc):
            ufuncs |= where_defined(u, u.__name__, roots) | written_imports(u)
    # numpy 2 moved numpy.core to numpy._core; the ufuncs kept their names.
    ufuncs |= {g.replace("numpy.core.", "numpy._core.", 1) for g in ufuncs if g.startswith("numpy.core.")}
    special = set()
    for n in dir(sps):
        u = getattr(sps, n)
        if isinstance(u, np.ufunc):
            special |= where_defined(u, u.__name__, ["scipy.special"]) | written_imports(u)

    reductions = set()
    for modname in ("numpy.core.fromnumeric", "numpy.lib.nanfunctions"):
        mod = importlib.import_module(modname)
        for n in getattr(mod, "__all__", dir(mod)):
            f = getattr(mod, n, None)
            if isinstance(f, types.FunctionType) and not n.startswith("_"):
                reductions |= written_imports(f)

    def data_class(c):
        if c is np.memmap or (inspect.isclass(c) and issubclass(c, np.memmap)):
            return False  # its constructor opens (and may create) a file
        return issubclass(c, (np.ndarray, np.generic)) or c in (np.poly1d, np.vectorize, np.dtype)
    classes = set()
    for n in dir(np):
        c = getattr(np, n)
        if inspect.isclass(c) and data_class(c):
            classes |= where_defined(c, n, roots) | {"%s:%s" % (c.__module__, c.__qualname__)}
    classes |= defined_classes(modules_under("numpy.ma"), lambda c: issubclass(c, (np.ndarray, np.generic)) or c.__name__ in ("MaskedConstant", "mvoid"))
    classes |= defined_classes(modules_under("numpy.polynomial"), lambda c: hasattr(c, "coef") or c.__name__ in ("ABCPolyBase",))
    classes = {g for g in classes if not g.endswith(":memmap")}
    classes |= {g.replace("numpy.core.", "numpy._core.", 1) for g in classes if g.startswith("numpy.core.")}
    return [
        ("allow-numpy-ufuncs",
         "Every numpy and scipy.special ufunc (elementwise numeric kernels, e.g. FunctionTransformer(func=np.log1p)), under every module "
         "that holds it, since pickle names the first one it finds in sys.modules.",
         ufuncs | special),
        ("allow-numpy-reductions",
         "numpy's reductions and array functions (numpy.core.fromnumeric, numpy.lib.nanfunctions: mean, sum, clip, nanmedian ...), which "
         "estimators keep as parameters (FeatureAgglomeration(pooling_func=np.mean)); they compute on their argument and call only its "
         "method of the same name.",
         reductions),
        ("allow-numpy-data-classes",
         "numpy data classes: ndarray subclasses (matrix, recarray, chararray; not memmap, whose constructor opens a file), scalar types, "
         "masked arrays, poly1d and numpy.polynomial series, and vectorize (holds a function it calls only when called).",
         classes),
    ]


def scipy_rules():
    pkgs = ["scipy.sparse", "scipy.spatial", "scipy.interpolate", "scipy.stats", "scipy.optimize", "scipy.signal", "scipy.cluster",
            "scipy.linalg", "scipy.integrate", "scipy.ndimage", "scipy.special"]
    mods = []
    for p in pkgs:
        mods += modules_under(p)
    classes = defined_classes(mods, lambda c: not issubclass(c, BaseException) and not issubclass(c, Warning))
    return [
        ("allow-scipy-classes",
         "Every class scipy defines in its computational subpackages (sparse, spatial, interpolate, stats, optimize, signal, cluster, "
         "linalg, integrate, ndimage, special): sparse matrices, KD-trees, splines, distributions and their frozen forms, result "
         "objects. scipy.io (file readers), scipy.datasets (downloads) and scipy._lib (LowLevelCallable) are not included.",
         classes),
    ]


# ---- scikit-learn ----------------------------------------------------------------


def sklearn_rules():
    import sklearn
    from sklearn.utils import all_estimators

    skip = ["sklearn.datasets", "sklearn.externals", "sklearn.experimental", "sklearn.utils._testing", "sklearn.utils.estimator_checks",
            "sklearn.utils._show_versions", "sklearn._build_utils", "sklearn.__check_build", "sklearn._min_dependencies",
            "sklearn.utils._mocking", "sklearn.conftest"]
    mods = modules_under("sklearn", skip=skip)
    classes = defined_classes(mods, lambda c: not issubclass(c, BaseException) and not issubclass(c, Warning))
    # Cython helpers of the same shape as copyreg.__newobj__
    # (newObj(cls) = cls.__new__(cls)) that KD/ball trees and distance
    # metrics pickle through.
    newobj = set()
    for mod in mods:
        f = getattr(mod, "newObj", None)
        if f is not None and callable(f) and not inspect.isclass(f):
            newobj.add("%s:newObj" % mod.__name__)
    funcs = set()
    # Metrics and score functions, which estimators and scorers take as
    # parameters (SelectKBest(score_func=chi2), make_scorer(fbeta_score)).
    for p in ("sklearn.metrics", "sklearn.feature_selection"):
        for mod in modules_under(p):
            if "_plot" in mod.__name__:
                continue
            for n, f in vars(mod).items():
                if isinstance(f, types.FunctionType) and f.__module__ == mod.__name__ and not n.startswith("__"):
                    if mod.__name__.startswith("sklearn.feature_selection") and not ("_univariate_selection" in mod.__name__ or "_mutual_info" in mod.__name__):
                        continue
                    funcs |= written_imports(f)
    # Callables scikit-learn's own constructors default to, and the
    # k-means kernels BisectingKMeans keeps as fitted state.
    defaults = set()
    for _, cls in all_estimators():
        try:
            sig = inspect.signature(cls.__init__)
        except (TypeError, ValueError):
            continue
        for p in sig.parameters.values():
            d = p.default
            if d is inspect.Parameter.empty or inspect.isclass(d) or not callable(d):
                continue
            defaults |= written_imports(d)
    from sklearn.cluster import _kmeans
    for n in ("_kmeans_single_lloyd", "_kmeans_single_elkan"):
        if hasattr(_kmeans, n):
            defaults |= written_imports(getattr(_kmeans, n))
    return [
        ("allow-sklearn-classes",
         "Every class scikit-learn defines, private ones included (fitted estimators hold _BinMapper, _CFNode, _PredictScorer ...), "
         "except in sklearn.datasets (fetchers), sklearn.externals, sklearn.experimental and its test and tooling modules.",
         classes | newobj),
        ("allow-sklearn-functions",
         "Functions scikit-learn estimators keep as parameters or state: the metrics and scorer helpers of sklearn.metrics, the score "
         "functions of sklearn.feature_selection, the callables its constructors default to, and BisectingKMeans's k-means kernels. "
         "They compute on arrays; export and I/O functions (sklearn.tree.export_graphviz, sklearn.datasets) are not included.",
         funcs | defaults),
    ]


def onnx_rules():
    import onnx  # noqa: F401
    from google.protobuf.message import Message
    mods = [m for m in modules_under("onnx") if m.__name__.endswith("_pb2")]
    classes = defined_classes(mods, lambda c: issubclass(c, Message))
    return [
        ("allow-onnx-messages",
         "onnx's protobuf message classes (ModelProto, TensorProto ...): a pickled message is rebuilt by parsing its serialized bytes.",
         classes),
    ]


# ---- output ------------------------------------------------------------------------


def load_existing(path):
    """The rules of an earlier run, to union with (a tiny reader for the
    format this script writes)."""
    rules, versions = {}, set()
    if not os.path.exists(path):
        return rules, versions
    cur = None
    for line in open(path):
        s = line.rstrip("\n")
        if s.startswith("# made with: "):
            versions.add(s[len("# made with: "):])
        elif s.startswith("  - id: "):
            cur = s[len("  - id: "):]
            rules[cur] = set()
        elif s.startswith("      \"") and cur:
            mod, names = s.strip().split(": ", 1)
            mod = json.loads(mod)
            for n in json.loads(names):
                rules[cur].add("%s:%s" % (mod, n))
    return rules, versions


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-o", default=DEFAULT_OUT)
    ap.add_argument("--replace", action="store_true", help="do not keep the entries of the existing file")
    args = ap.parse_args()
    rules = []
    for f in (torch_rules, numpy_rules, scipy_rules, sklearn_rules, onnx_rules):
        rules += f()
    import numpy
    import scipy
    import sklearn
    import torch
    import onnx
    made = "python %d.%d, torch %s, numpy %s, scipy %s, sklearn %s, onnx %s" % (sys.version_info[0], sys.version_info[1], torch.__version__,
                                                                                 numpy.__version__, scipy.__version__, sklearn.__version__, onnx.__version__)
    old, versions = ({}, set()) if args.replace else load_existing(args.o)
    versions.add(made)
    buf = io.StringIO()
    buf.write("# Generated by internal/gen/allowgen/allowgen.py from the installed libraries; DO NOT EDIT.\n")
    buf.write("# Regenerate: /usr/bin/python3 internal/gen/allowgen/allowgen.py && go generate ./internal/rules\n")
    buf.write("# Each run adds to the lists (--replace starts afresh); the principles are in docs/pickle.md.\n")
    for v in sorted(versions):
        buf.write("# made with: %s\n" % v)
    buf.write("rules:\n")
    for rid, reason, globs in rules:
        globs = set(globs) | old.get(rid, set())
        bad = [g for g in globs if '"' in g or "\\" in g or ":" not in g]
        if bad:
            sys.exit("unexpected name %r" % bad[0])
        buf.write("  - id: %s\n    action: allow\n    reason: \"%s\"\n    names:\n" % (rid, reason.replace('"', "'")))
        by = {}
        for g in globs:
            mod, name = g.split(":", 1)
            by.setdefault(mod, []).append(name)
        for mod in sorted(by):
            buf.write("      %s: %s\n" % (json.dumps(mod), json.dumps(sorted(by[mod]))))
    with open(args.o, "w") as f:
        f.write(buf.getvalue())
    n = sum(len(set(g) | old.get(r, set())) for r, _, g in rules)
    print("%d allow entries in %d rules -> %s" % (n, len(rules), args.o), file=sys.stderr)


if __name__ == "__main__":
    main()
