"""Writes the TorchScript and torch.package fixtures of analyzer/torch/testdata
with Debian's torch (1.13), then loads each one in a child process the way a
victim would (torch.jit.load, PackageImporter.load_pickle) and records in
testdata/MANIFEST.tsv what the file is, whether it loads, and whether its
harmless payload ran (it prints "aigis-pwned" or reads /etc/hostname).

Run: /usr/bin/python3 internal/gen/torchgen/gen.py
"""
import io
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import zipfile
from typing import Tuple

import torch
from torch.package import PackageExporter

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "analyzer", "torch", "testdata")


# ---------------------------------------------------------------- TorchScript

class Plain(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(2, 2)

    def forward(self, x):
        return torch.relu(self.l(x))


class WithState(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.w = torch.ones(2)

    def forward(self, x):
        return x + self.w

    @torch.jit.export
    def __getstate__(self):
        return (self.w, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]):
        self.w = state[0] * 2
        self.training = state[1]


class ReadsFileOnLoad(torch.nn.Module):
    """__setstate__ runs when torch.jit.load rebuilds the module."""

    def __init__(self):
        super().__init__()
        self.w = torch.ones(2)

    def forward(self, x):
        return x + self.w

    @torch.jit.export
    def __getstate__(self):
        return (self.w, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]):
        self.w = torch.from_file("/etc/hostname", False, 2, dtype=torch.uint8).float()
        self.training = state[1]


class ReadsFileInForward(torch.nn.Module):
    def forward(self, x):
        return x + torch.from_file("/etc/hostname", False, 2, dtype=torch.uint8).float()


_lib = torch.library.Library("aigis_test", "DEF")
_lib.define("scale(Tensor x) -> Tensor")
_lib.impl("scale", lambda x: x * 2, "CPU")


class CustomOp(torch.nn.Module):
    def forward(self, x):
        return torch.ops.aigis_test.scale(x)


def torchscript():
    made = []

    def save(name, m, what):
        torch.jit.save(m, os.path.join(OUT, name))
        made.append((name, what))

    save("ts_scripted.pt", torch.jit.script(Plain()), "torch.jit.script of a Linear+relu module")
    save("ts_traced.pt", torch.jit.trace(Plain(), torch.ones(1, 2)), "torch.jit.trace of the same module")
    save("ts_setstate.pt", torch.jit.script(WithState()), "scripted module with __getstate__/__setstate__ (arithmetic only)")
    save("ts_fromfile_setstate.pt", torch.jit.script(ReadsFileOnLoad()), "__setstate__ reads /etc/hostname with torch.from_file when loaded")
    save("ts_fromfile_forward.pt", torch.jit.script(ReadsFileInForward()), "forward reads /etc/hostname with torch.from_file")
    save("ts_customop.pt", torch.jit.script(CustomOp()), "forward calls ops.aigis_test.scale, a custom op (registered from Python here; native code in real life)")
    return made


# -------------------------------------------------------------- torch.package

PKG_MODEL = '''\
import torch


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.l(x)
'''

PKG_SINK_ON_IMPORT = '''\
import os
import torch

os.system("echo aigis-pwned")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.l = torch.nn.Linear(2, 2)

    def forward(self, x):
        return self.l(x)
'''

PKG_REDUCE = '''\
import subprocess


def make(n):
    subprocess.run(["echo", "aigis-pwned"])
    return n


class Box:
    def __init__(self, n):
        self.n = n

    def __reduce__(self):
        return (make, (self.n,))
'''


def package(name, modules, objects, extern=("torch.**", "collections", "builtins")):
    """modules: {dotted name: source}; objects: {resource: (module, attr, args)}"""
    tmp = tempfile.mkdtemp()
    try:
        for mod, src in modules.items():
            path = os.path.join(tmp, *mod.split(".")) + ".py"
            os.makedirs(os.path.dirname(path), exist_ok=True)
            for d in range(1, len(mod.split("."))):
                init = os.path.join(tmp, *mod.split(".")[:d], "__init__.py")
                if not os.path.exists(init):
                    open(init, "w").close()
            with open(path, "w") as f:
                f.write(src)
        sys.path.insert(0, tmp)
        try:
            import importlib
            objs = {}
            for res, (mod, attr, args) in objects.items():
                m = importlib.import_module(mod)
                objs[res] = getattr(m, attr)(*args)
            with PackageExporter(os.path.join(OUT, name)) as e:
                for pat in extern:
                    e.extern(pat)
                e.intern([m.split(".")[0] + ".**" for m in modules] + [m.split(".")[0] for m in modules])
                for res, obj in objs.items():
                    e.save_pickle("model", res, obj)
        finally:
            sys.path.remove(tmp)
            for mod in list(sys.modules):
                if any(mod == m.split(".")[0] or mod.startswith(m.split(".")[0] + ".") for m in modules):
                    del sys.modules[mod]
    finally:
        shutil.rmtree(tmp)


def rewrite_zip(src, dst, add=None, replace=None):
    """Copies a zip, replacing or adding members (for what the exporter refuses to write)."""
    with zipfile.ZipFile(os.path.join(OUT, src)) as zin, zipfile.ZipFile(os.path.join(OUT, dst), "w", zipfile.ZIP_STORED) as zout:
        for i in zin.infolist():
            data = zin.read(i.filename)
            if replace and i.filename in replace:
                data = replace[i.filename]
            zout.writestr(i, data)
        for n, data in (add or {}).items():
            zout.writestr(n, data)


def torch_package():
    made = []
    package("pkg_model.pt", {"aigis_pkg.model": PKG_MODEL}, {"model.pkl": ("aigis_pkg.model", "Net", ())})
    made.append(("pkg_model.pt", "torch.package: model class in packaged source aigis_pkg/model.py, torch extern"))
    with PackageExporter(os.path.join(OUT, "pkg_extern_only.pt")) as e:
        e.extern("torch.**")
        e.extern("collections")
        e.extern("builtins")
        e.save_pickle("model", "model.pkl", torch.nn.Linear(2, 2))
    made.append(("pkg_extern_only.pt", "torch.package: a torch.nn.Linear, every module extern, no packaged source"))
    package("pkg_sink_on_import.pt", {"aigis_pkg.model": PKG_SINK_ON_IMPORT}, {"model.pkl": ("aigis_pkg.model", "Net", ())})
    made.append(("pkg_sink_on_import.pt", "torch.package: packaged module runs os.system at import"))
    package("pkg_reduce_function.pt", {"aigis_pkg.box": PKG_REDUCE}, {"box.pkl": ("aigis_pkg.box", "Box", (3,))},
            extern=("torch.**", "collections", "builtins", "subprocess"))
    made.append(("pkg_reduce_function.pt", "torch.package: the pickle calls aigis_pkg.box.make, whose body runs subprocess.run"))
    # The package ships its own torch.nn.modules.linear and does not list
    # torch as extern: the pickle's torch.nn.modules.linear.Linear is then
    # the package's code, not PyTorch's.
    with zipfile.ZipFile(os.path.join(OUT, "pkg_extern_only.pt")) as z:
        prefix = z.namelist()[0].split("/")[0] + "/"
        externs = z.read(prefix + ".data/extern_modules").decode().splitlines()
    shadow = textwrap.dedent('''\
        import os
        os.system("echo aigis-pwned")


        class Linear:
            def __setstate__(self, state):
                self.__dict__.update(state)
        ''')
    kept = [m for m in externs if m != "torch" and not m.startswith("torch.")] + ["os"]
    rewrite_zip("pkg_extern_only.pt", "pkg_shadow_torch.pt",
                add={prefix + "torch/__init__.py": "", prefix + "torch/nn/__init__.py": "", prefix + "torch/nn/modules/__init__.py": "",
                     prefix + "torch/nn/modules/linear.py": shadow, prefix + "torch/_utils.py": "def _rebuild_parameter(*a):\n    return None\ndef _rebuild_tensor_v2(*a):\n    return None\n"},
                replace={prefix + ".data/extern_modules": ("\n".join(kept) + "\n").encode()})
    made.append(("pkg_shadow_torch.pt", "torch.package: ships torch/nn/modules/linear.py (running os.system) and drops torch from extern_modules, shadowing PyTorch"))
    return made


LOADER = r'''
import sys, torch
from torch.package import PackageImporter
path, kind = sys.argv[1], sys.argv[2]
if kind == "ts":
    m = torch.jit.load(path)
    if hasattr(m, "w"):
        print("w=%s" % bytes(int(v) for v in m.w.tolist()))
else:
    imp = PackageImporter(path)
    for n in imp.zip_reader.get_all_records():
        if n.endswith(".pkl"):
            pkg, res = n.rsplit("/", 1)
            imp.load_pickle(pkg.replace("/", "."), res)
print("loaded")
'''


def check(name):
    kind = "ts" if name.startswith("ts_") else "pkg"
    p = subprocess.run([sys.executable, "-c", LOADER, os.path.join(OUT, name), kind], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"))
    out = p.stdout
    err = [l.strip() for l in p.stderr.splitlines() if "Error" in l or "Unknown builtin op" in l]
    loads = "loads" if "loaded" in out else "fails: " + (err or ["?"])[-1][:120]
    ran = "-"
    if "aigis-pwned" in out:
        ran = "payload ran"
    host = open("/etc/hostname", "rb").read()[:2]
    if ("w=%s" % host) in out:
        ran = "payload ran (read /etc/hostname)"
    return loads, ran


def main():
    os.makedirs(OUT, exist_ok=True)
    made = torchscript() + torch_package()
    rows = ["# generated by internal/gen/torchgen/gen.py with torch %s: file, what it is, torch loading it, payload" % torch.__version__]
    for name, what in made:
        loads, ran = check(name)
        rows.append("%s\t%s\t%s\t%s" % (name, what, loads, ran))
    with open(os.path.join(OUT, "MANIFEST.tsv"), "w") as f:
        f.write("\n".join(rows) + "\n")


if __name__ == "__main__":
    main()
