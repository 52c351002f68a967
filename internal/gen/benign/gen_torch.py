"""torch section of the benign corpus: modules (whole, zip and legacy, and
state_dicts, before and after the first forward pass), optimizers, learning
rate schedulers, quantised, scripted and traced modules, parametrisations
and hooks, tensors of every dtype and layout, plain-pickled tensors, and
training checkpoints."""

import argparse
import collections
import datetime
import decimal
import fractions
import functools
import inspect
import io
import pathlib
import pickle
import random
import types
import uuid
import warnings

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from torch_modules import MODULES, VARIANTS

warnings.filterwarnings("ignore")
torch.set_num_threads(1)

DTYPES = [None, torch.float64, torch.float16, torch.bfloat16]


def save_zip(obj, proto=2):
    def w(p):
        torch.save(obj, p, pickle_protocol=proto)
    return w


def save_legacy(obj, proto=2):
    def w(p):
        torch.save(obj, p, pickle_protocol=proto, _use_new_zipfile_serialization=False)
    return w


def save_pickle(obj, proto):
    def w(p):
        with open(p, "wb") as f:
            pickle.dump(obj, f, protocol=proto)
    return w


def public_module_classes():
    """Every public nn.Module subclass torch.nn exports."""
    return sorted(n for n, c in vars(nn).items() if inspect.isclass(c) and issubclass(c, nn.Module) and not n.startswith("_"))


def forward(m, inputs):
    if inputs is None:
        return False
    args = inputs()
    out = m(*args)
    # A loss or a layer that keeps a graph: backward once as training does.
    if isinstance(out, tuple):
        out = out[0]
    if hasattr(out, "output"):
        out = out.output
    if isinstance(out, torch.Tensor) and out.requires_grad and out.is_floating_point():
        out.sum().backward()
    return True


def gen_modules(c):
    names = public_module_classes()
    missing = sorted(set(names) - set(MODULES))
    if missing:
        raise SystemExit("torch_modules.MODULES lacks " + ", ".join(missing))
    table = dict(MODULES)
    table.update(VARIANTS)
    for i, name in enumerate(sorted(table)):
        ctor, inputs = table[name]
        pz = [2, 3, 4, 5, 1][i % 5]
        pl = [2, 4, 5, 3, 1][i % 5]
        dt = DTYPES[i % len(DTYPES)]
        kind = "torch-module"
        # Before the first forward pass: a fresh module.
        c.add("torch/module/whole-zip/%s.init.pt" % name, kind, "%s saved whole before forward, zip, protocol %d" % (name, pz),
              lambda p: save_zip(fresh(ctor, name), pz)(p), "torch.load")
        c.add("torch/module/whole-legacy/%s.init.pt" % name, kind, "%s saved whole before forward, legacy format, protocol %d" % (name, pl),
              lambda p: save_legacy(fresh(ctor, name), pl)(p), "torch.load")
        c.add("torch/module/state_dict-zip/%s.init.pt" % name, "torch-state_dict", "%s state_dict before forward, zip" % name,
              lambda p: save_zip(fresh(ctor, name).state_dict())(p), "torch.load(weights_only=True)")
        # After it (and, for some, cast to another dtype).
        if inputs is None:
            continue

        def trained():
            m = fresh(ctor, name)
            forward(m, inputs)
            if dt is not None and not name.startswith("Lazy"):
                m = m.to(dt)
            return m
        what = " cast to %s" % dt if dt is not None else ""
        c.add("torch/module/whole-zip/%s.fwd.pt" % name, kind, "%s saved whole after forward%s, zip, protocol %d" % (name, what, pz),
              lambda p: save_zip(trained(), pz)(p), "torch.load")
        c.add("torch/module/whole-legacy/%s.fwd.pt" % name, kind, "%s saved whole after forward%s, legacy, protocol %d" % (name, what, pl),
              lambda p: save_legacy(trained(), pl)(p), "torch.load")
        c.add("torch/module/state_dict-zip/%s.fwd.pt" % name, "torch-state_dict", "%s state_dict after forward%s, zip, protocol %d" % (name, what, pz),
              lambda p: save_zip(trained().state_dict(), pz)(p), "torch.load(weights_only=True)")
        c.add("torch/module/state_dict-legacy/%s.fwd.pt" % name, "torch-state_dict", "%s state_dict after forward%s, legacy, protocol %d" % (name, what, pl),
              lambda p: save_legacy(trained().state_dict(), pl)(p), "torch.load(weights_only=True)")


def fresh(ctor, name):
    torch.manual_seed(len(name))
    return ctor()


# ---- optimizers and schedulers ---------------------------------------------

OPTIMIZERS = {
    "ASGD": (torch.optim.ASGD, {"t0": 1}),
    "Adadelta": (torch.optim.Adadelta, {}),
    "Adagrad": (torch.optim.Adagrad, {"lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    "Adam": (torch.optim.Adam, {}),
    "Adam-amsgrad-maximize": (torch.optim.Adam, {"amsgrad": True, "maximize": True, "weight_decay": 0.01}),
    "Adam-foreach": (torch.optim.Adam, {"foreach": True}),
    "AdamW": (torch.optim.AdamW, {"amsgrad": True}),
    "Adamax": (torch.optim.Adamax, {}),
    "LBFGS": (torch.optim.LBFGS, {"history_size": 3, "line_search_fn": "strong_wolfe"}),
    "NAdam": (torch.optim.NAdam, {"momentum_decay": 0.005}),
    "RAdam": (torch.optim.RAdam, {}),
    "RMSprop": (torch.optim.RMSprop, {"centered": True, "momentum": 0.5}),
    "Rprop": (torch.optim.Rprop, {"etas": (0.4, 1.3)}),
    "SGD": (torch.optim.SGD, {"lr": 0.1}),
    "SGD-nesterov": (torch.optim.SGD, {"lr": 0.1, "momentum": 0.9, "nesterov": True, "dampening": 0}),
    "SparseAdam": (torch.optim.SparseAdam, {}),
}


def make_optimizer(name):
    cls, kw = OPTIMIZERS[name]
    kw = dict(kw)
    if name == "SparseAdam":
        model = nn.Embedding(6, 3, sparse=True)
        params = list(model.parameters())
        x = torch.tensor([1, 2, 4])
    else:
        model = nn.Linear(4, 2)
        # Two parameter groups, except for LBFGS, which takes one.
        params = [{"params": [model.weight]}, {"params": [model.bias], "lr": 0.05}] if name != "LBFGS" else model.parameters()
        x = torch.randn(3, 4)
    lr = kw.pop("lr", 0.01)
    opt = cls(params, lr=lr, **kw)

    def step():
        def closure():
            opt.zero_grad()
            loss = model(x).pow(2).sum()
            loss.backward()
            return loss
        if name == "LBFGS":
            opt.step(closure)
        else:
            closure()
            opt.step()
    return model, opt, step


def gen_optim(c):
    all_opts = sorted(n for n, k in vars(torch.optim).items() if inspect.isclass(k) and issubclass(k, torch.optim.Optimizer) and k is not torch.optim.Optimizer)
    covered = {OPTIMIZERS[n][0].__name__ for n in OPTIMIZERS}
    if set(all_opts) - covered:
        raise SystemExit("OPTIMIZERS lacks " + ", ".join(sorted(set(all_opts) - covered)))
    for i, name in enumerate(sorted(OPTIMIZERS)):
        proto = [2, 3, 4, 5, 1][i % 5]

        def before(p, name=name):
            _, opt, _ = make_optimizer(name)
            save_zip(opt.state_dict())(p)

        def after(save, name=name, whole=False):
            def w(p):
                _, opt, step = make_optimizer(name)
                step()
                step()
                save(opt if whole else opt.state_dict())(p)
            return w
        c.add("torch/optim/%s.init.pt" % name, "torch-optimizer", "%s state_dict before the first step" % name, before, "torch.load(weights_only=True)")
        c.add("torch/optim/%s.step.pt" % name, "torch-optimizer", "%s state_dict after two steps, zip, protocol %d" % (name, proto),
              after(lambda o: save_zip(o, proto)), "torch.load(weights_only=True)")
        c.add("torch/optim/%s.step-legacy.pt" % name, "torch-optimizer", "%s state_dict after two steps, legacy, protocol %d" % (name, proto),
              after(lambda o: save_legacy(o, proto)), "torch.load(weights_only=True)")
        c.add("torch/optim/%s.whole.pt" % name, "torch-optimizer", "%s optimizer object saved whole after two steps" % name,
              after(lambda o: save_zip(o, proto), whole=True), "torch.load")


def _sched(name, opt):
    S = torch.optim.lr_scheduler
    return {
        "LambdaLR": lambda: S.LambdaLR(opt, lr_lambda=lambda e: 0.9 ** e),
        "LambdaLR-partial": lambda: S.LambdaLR(opt, lr_lambda=functools.partial(np.power, 0.9)),
        "MultiplicativeLR": lambda: S.MultiplicativeLR(opt, lr_lambda=lambda e: 0.95),
        "StepLR": lambda: S.StepLR(opt, step_size=2, gamma=0.5),
        "MultiStepLR": lambda: S.MultiStepLR(opt, milestones=[1, 3], gamma=0.3),
        "ConstantLR": lambda: S.ConstantLR(opt, factor=0.5, total_iters=2),
        "LinearLR": lambda: S.LinearLR(opt, start_factor=0.1, total_iters=4),
        "ExponentialLR": lambda: S.ExponentialLR(opt, gamma=0.9),
        "SequentialLR": lambda: S.SequentialLR(opt, [S.ConstantLR(opt, factor=0.5), S.ExponentialLR(opt, 0.9)], milestones=[2]),
        "CosineAnnealingLR": lambda: S.CosineAnnealingLR(opt, T_max=10, eta_min=0.001),
        "ChainedScheduler": lambda: S.ChainedScheduler([S.ConstantLR(opt, factor=0.5), S.ExponentialLR(opt, 0.9)]),
        "ReduceLROnPlateau": lambda: S.ReduceLROnPlateau(opt, mode="max", patience=1, threshold_mode="abs"),
        "CyclicLR": lambda: S.CyclicLR(opt, 0.001, 0.1, step_size_up=2, mode="triangular2"),
        "CyclicLR-exp-range": lambda: S.CyclicLR(opt, 0.001, 0.1, mode="exp_range", gamma=0.9),
        "CosineAnnealingWarmRestarts": lambda: S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=2),
        "OneCycleLR": lambda: S.OneCycleLR(opt, max_lr=0.1, total_steps=10),
        "OneCycleLR-linear": lambda: S.OneCycleLR(opt, max_lr=[0.1, 0.2], total_steps=10, anneal_strategy="linear", three_phase=True),
        "PolynomialLR": lambda: S.PolynomialLR(opt, total_iters=5, power=2.0),
    }[name]()


SCHEDULERS = ["LambdaLR", "LambdaLR-partial", "MultiplicativeLR", "StepLR", "MultiStepLR", "ConstantLR", "LinearLR", "ExponentialLR",
              "SequentialLR", "CosineAnnealingLR", "ChainedScheduler", "ReduceLROnPlateau", "CyclicLR", "CyclicLR-exp-range",
              "CosineAnnealingWarmRestarts", "OneCycleLR", "OneCycleLR-linear", "PolynomialLR"]


def make_sched(name, steps=3):
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD([{"params": [model.weight]}, {"params": [model.bias]}], lr=0.1, momentum=0.9)
    s = _sched(name, opt)
    for e in range(steps):
        opt.step()
        if name == "ReduceLROnPlateau":
            s.step(1.0 / (e + 1))
        else:
            s.step()
    return opt, s


def gen_sched(c):
    S = torch.optim.lr_scheduler
    all_s = {n for n, k in vars(S).items() if inspect.isclass(k) and n[0] != "_" and (issubclass(k, S._LRScheduler) or n == "ReduceLROnPlateau") }
    covered = {n.split("-")[0] for n in SCHEDULERS}
    if all_s - covered:
        raise SystemExit("SCHEDULERS lacks " + ", ".join(sorted(all_s - covered)))
    for i, name in enumerate(SCHEDULERS):
        proto = [2, 3, 4, 5, 1][i % 5]
        c.add("torch/sched/%s.state_dict.pt" % name, "torch-scheduler", "%s state_dict after 3 steps, protocol %d" % (name, proto),
              lambda p, name=name: save_zip(make_sched(name)[1].state_dict(), proto)(p), "torch.load")
        c.add("torch/sched/%s.state_dict-legacy.pt" % name, "torch-scheduler", "%s state_dict after 3 steps, legacy" % name,
              lambda p, name=name: save_legacy(make_sched(name)[1].state_dict())(p), "torch.load")
        c.add("torch/sched/%s.init.pt" % name, "torch-scheduler", "%s state_dict right after construction" % name,
              lambda p, name=name: save_zip(make_sched(name, 0)[1].state_dict())(p), "torch.load")
        c.add("torch/sched/%s.whole.pt" % name, "torch-scheduler", "%s scheduler object saved whole" % name,
              lambda p, name=name: save_zip(make_sched(name)[1])(p), "torch.load")
        # The checkpoint a training loop writes.
        c.add("torch/checkpoint/sched-%s.pt" % name, "torch-checkpoint", "training checkpoint with a %s scheduler, protocol %d" % (name, proto),
              lambda p, name=name: save_zip(checkpoint(name), proto)(p), "torch.load")
    scaler = torch.cuda.amp.GradScaler(enabled=False)
    c.add("torch/optim/GradScaler.state_dict.pt", "torch-optimizer", "torch.cuda.amp.GradScaler state_dict (disabled on CPU)",
          save_zip(scaler.state_dict()), "torch.load(weights_only=True)")
    c.add("torch/optim/GradScaler.whole.pt", "torch-optimizer", "torch.cuda.amp.GradScaler saved whole",
          save_zip(scaler), "torch.load")


def checkpoint(sched):
    opt, s = make_sched(sched)
    model = nn.Linear(3, 2)
    return {
        "epoch": 3, "global_step": 30, "best_metric": float("inf"),
        "model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": s.state_dict(),
        "rng_state": torch.get_rng_state(), "numpy_rng": np.random.get_state(), "python_rng": random.getstate(),
        "args": argparse.Namespace(lr=0.1, epochs=10, out=pathlib.PosixPath("/tmp/run")),
        "saved": datetime.datetime(2024, 1, 2, 3, 4, 5), "torch_version": torch.__version__,
    }


# ---- quantisation ----------------------------------------------------------

class _Static(nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = torch.ao.quantization.QuantStub()
        self.conv = nn.Conv2d(1, 2, 3)
        self.bn = nn.BatchNorm2d(2)
        self.relu = nn.ReLU()
        self.fc = nn.Linear(8, 3)
        self.dequant = torch.ao.quantization.DeQuantStub()

    def forward(self, x):
        x = self.relu(self.bn(self.conv(self.quant(x))))
        return self.dequant(self.fc(x.flatten(1)))


def static_model(backend, stage):
    """stage: prepared, converted, qat, qat-converted. _Static is defined
    here, so whole-module saves name gen_torch._Static: such files are made
    only as state_dicts and TorchScript."""
    torch.backends.quantized.engine = backend
    m = _Static()
    if stage.startswith("qat"):
        m.train()
        m.qconfig = torch.ao.quantization.get_default_qat_qconfig(backend)
        m = torch.ao.quantization.fuse_modules_qat(m, [["conv", "bn", "relu"]])
        m = torch.ao.quantization.prepare_qat(m)
    else:
        m.eval()
        m.qconfig = torch.ao.quantization.get_default_qconfig(backend)
        m = torch.ao.quantization.fuse_modules(m, [["conv", "bn", "relu"]])
        m = torch.ao.quantization.prepare(m)
    for _ in range(2):
        m(torch.randn(2, 1, 4, 4))
    if stage.endswith("converted"):
        m.eval()
        m = torch.ao.quantization.convert(m)
    return m


def quantized_sequential(backend):
    """A model made of torch classes only, quantised statically, so it can
    be saved whole."""
    torch.backends.quantized.engine = backend
    m = nn.Sequential(torch.ao.quantization.QuantStub(), nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3),
                      torch.ao.quantization.DeQuantStub()).eval()
    m.qconfig = torch.ao.quantization.get_default_qconfig(backend)
    m = torch.ao.quantization.prepare(m)
    m(torch.randn(2, 1, 4, 4))
    return m, torch.ao.quantization.convert(m)


def gen_quant(c):
    Q = torch.ao.quantization
    dyn = {
        "dynamic-linear-qint8": lambda: Q.quantize_dynamic(nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)), {nn.Linear}, dtype=torch.qint8),
        "dynamic-linear-float16": lambda: Q.quantize_dynamic(nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2)), {nn.Linear}, dtype=torch.float16),
        "dynamic-lstm": lambda: Q.quantize_dynamic(nn.Sequential(nn.LSTM(4, 5)), {nn.LSTM}, dtype=torch.qint8),
        "dynamic-gru-cells": lambda: Q.quantize_dynamic(nn.ModuleDict({"g": nn.GRUCell(3, 4), "l": nn.LSTMCell(3, 4), "r": nn.RNNCell(3, 4)}),
                                                        {nn.GRUCell, nn.LSTMCell, nn.RNNCell}, dtype=torch.qint8),
        "dynamic-embedding-bag": lambda: Q.quantize_dynamic(nn.Sequential(nn.EmbeddingBag(10, 4), nn.Linear(4, 2)), {nn.Linear}),
    }
    for i, (name, mk) in enumerate(sorted(dyn.items())):
        torch.backends.quantized.engine = "qnnpack"
        proto = [2, 4, 5, 3][i % 4]
        c.add("torch/quant/%s.whole.pt" % name, "torch-quantized", "%s saved whole, protocol %d" % (name, proto), lambda p, mk=mk: save_zip(mk(), proto)(p), "torch.load")
        c.add("torch/quant/%s.whole-legacy.pt" % name, "torch-quantized", "%s saved whole, legacy" % name, lambda p, mk=mk: save_legacy(mk())(p), "torch.load")
        c.add("torch/quant/%s.state_dict.pt" % name, "torch-quantized", "%s state_dict" % name, lambda p, mk=mk: save_zip(mk().state_dict())(p), "torch.load")
        c.add("torch/quant/%s.scripted.pt" % name, "torchscript", "%s scripted" % name, lambda p, mk=mk: torch.jit.save(torch.jit.script(mk()), p), "torch.jit.load")
    for backend in ("qnnpack", "onednn"):
        for stage in ("prepared", "converted", "qat", "qat-converted"):
            n = "static-%s-%s" % (backend, stage)
            c.add("torch/quant/%s.state_dict.pt" % n, "torch-quantized", "eager-mode %s model (%s) state_dict" % (stage, backend),
                  lambda p, b=backend, s=stage: save_zip(static_model(b, s).state_dict())(p), "torch.load")
            c.add("torch/quant/%s.state_dict-legacy.pt" % n, "torch-quantized", "eager-mode %s model (%s) state_dict, legacy" % (stage, backend),
                  lambda p, b=backend, s=stage: save_legacy(static_model(b, s).state_dict(), 4)(p), "torch.load")
            if stage.endswith("converted"):
                c.add("torch/quant/%s.scripted.pt" % n, "torchscript", "eager-mode %s model (%s), scripted" % (stage, backend),
                      lambda p, b=backend, s=stage: torch.jit.save(torch.jit.script(static_model(b, s)), p), "torch.jit.load")
                c.add("torch/quant/%s.traced.pt" % n, "torchscript", "eager-mode %s model (%s), traced" % (stage, backend),
                      lambda p, b=backend, s=stage: torch.jit.save(torch.jit.trace(static_model(b, s), torch.randn(1, 1, 4, 4)), p), "torch.jit.load")
        c.add("torch/quant/sequential-%s.prepared.whole.pt" % backend, "torch-quantized", "prepared (observed) Sequential saved whole, qconfig with partials (%s)" % backend,
              lambda p, b=backend: save_zip(quantized_sequential(b)[0])(p), "torch.load")
        c.add("torch/quant/sequential-%s.converted.whole.pt" % backend, "torch-quantized", "quantised Sequential saved whole (%s)" % backend,
              lambda p, b=backend: save_zip(quantized_sequential(b)[1], 4)(p), "torch.load")
        c.add("torch/quant/sequential-%s.converted.whole-legacy.pt" % backend, "torch-quantized", "quantised Sequential saved whole, legacy (%s)" % backend,
              lambda p, b=backend: save_legacy(quantized_sequential(b)[1])(p), "torch.load")
    torch.backends.quantized.engine = "qnnpack"
    # FX graph mode: the GraphModule itself is Python code (torch.fx
    # pickles its source and execs it on load), so only its state_dict and
    # its TorchScript form are data.
    from torch.ao.quantization import quantize_fx
    def fx(stage):
        m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 3)).eval()
        qm = Q.get_default_qconfig_mapping("qnnpack")
        x = torch.randn(1, 1, 4, 4)
        m = quantize_fx.prepare_fx(m, qm, (x,))
        m(x)
        return m if stage == "prepared" else quantize_fx.convert_fx(m)
    c.add("torch/quant/fx-prepared.state_dict.pt", "torch-quantized", "FX-prepared model state_dict", lambda p: save_zip(fx("prepared").state_dict())(p), "torch.load")
    c.add("torch/quant/fx-converted.state_dict.pt", "torch-quantized", "FX-converted model state_dict", lambda p: save_zip(fx("converted").state_dict())(p), "torch.load")
    c.add("torch/quant/fx-converted.scripted.pt", "torchscript", "FX-converted model, scripted", lambda p: torch.jit.save(torch.jit.script(fx("converted")), p), "torch.jit.load")
    gen_quant_classes(c)
    # Quantised tensors of every quantised dtype and scheme.
    x = torch.randn(4, 6)
    qt = {
        "quint8": torch.quantize_per_tensor(x, 0.1, 10, torch.quint8),
        "qint8": torch.quantize_per_tensor(x, 0.05, 0, torch.qint8),
        "qint32": torch.quantize_per_tensor(x, 0.01, 0, torch.qint32),
        "quint4x2": torch.quantize_per_tensor(x, 0.1, 0, torch.quint4x2),
        "quint2x4": torch.quantize_per_tensor(x, 0.1, 0, torch.quint2x4),
        "per-channel": torch.quantize_per_channel(x, torch.rand(4) + 0.01, torch.zeros(4, dtype=torch.long), 0, torch.qint8),
        "per-channel-float-qparams": torch.quantize_per_channel(x, torch.rand(6) + 0.01, torch.rand(6), 1, torch.quint8),
    }
    for i, (n, v) in enumerate(sorted(qt.items())):
        c.add("torch/tensor/quantized-%s.pt" % n, "torch-tensor", "quantised tensor %s" % n, lambda p, v=v, i=i: save_zip({"t": v, "list": [v, v.dequantize()]}, [2, 3, 4, 5][i % 4])(p), "torch.load")
        c.add("torch/tensor/quantized-%s.legacy.pt" % n, "torch-tensor", "quantised tensor %s, legacy" % n, save_legacy(v), "torch.load")


def quant_classes():
    """Every module class of the quantised namespaces, with its defining
    module."""
    import importlib
    import pkgutil
    out = {}
    for pkg in ("torch.ao.nn.quantized", "torch.ao.nn.quantized.dynamic", "torch.ao.nn.quantized.reference", "torch.ao.nn.qat",
                "torch.ao.nn.intrinsic", "torch.nn.intrinsic.qat", "torch.nn.intrinsic.quantized", "torch.nn.intrinsic.quantized.dynamic",
                "torch.ao.nn.quantizable", "torch.ao.nn.sparse.quantized", "torch.ao.nn.qat.dynamic"):
        try:
            mod = importlib.import_module(pkg)
        except ImportError:
            continue
        for n, k in vars(mod).items():
            if inspect.isclass(k) and issubclass(k, nn.Module) and not n.startswith("_"):
                out["%s.%s" % (pkg.replace("torch.ao.nn.", "").replace("torch.nn.", ""), n)] = k
    return out


def _fused_float(k):
    """torch.ao.nn.intrinsic fused modules take the float modules they fuse."""
    n = k.__name__
    dim = n[-2] if n.endswith("d") else "1"
    parts = []
    if n.startswith("Conv"):
        parts.append({"1": nn.Conv1d, "2": nn.Conv2d, "3": nn.Conv3d}[dim](2, 3, 2))
    if n.startswith("Linear"):
        parts.append(nn.Linear(4, 3))
    if "Bn" in n or n.startswith("BN"):
        parts.append({"1": nn.BatchNorm1d, "2": nn.BatchNorm2d, "3": nn.BatchNorm3d}[dim](3))
    if "ReLU" in n:
        parts.append(nn.ReLU())
    return k(*parts)


_QUANT_SPECIAL = {
    "LayerNorm": lambda k: k([4], nn.Parameter(torch.ones(4)), nn.Parameter(torch.zeros(4)), 0.1, 0),
    "GroupNorm": lambda k: k(2, 4, nn.Parameter(torch.ones(4)), nn.Parameter(torch.zeros(4)), 0.1, 0),
    "InstanceNorm1d": lambda k: k(3, nn.Parameter(torch.ones(3)), nn.Parameter(torch.zeros(3)), 0.1, 0),
    "InstanceNorm2d": lambda k: k(3, nn.Parameter(torch.ones(3)), nn.Parameter(torch.zeros(3)), 0.1, 0),
    "InstanceNorm3d": lambda k: k(3, nn.Parameter(torch.ones(3)), nn.Parameter(torch.zeros(3)), 0.1, 0),
    "MultiheadAttention": lambda k: k(8, 2),
}


def gen_quant_classes(c):
    """Each quantised module class built directly, saved whole and as a
    state_dict (classes whose constructor needs more than the common
    signatures, or another quantised engine, are listed as skipped)."""
    qcfg = torch.ao.quantization.get_default_qat_qconfig("qnnpack")
    tries = [(), (2, 3, 2), (4, 3), (4, 5), (3,), (0.1, 0)]
    for name, k in sorted(quant_classes().items()):
        def build(k=k, name=name):
            torch.backends.quantized.engine = "qnnpack"
            if ".modules.fused" in k.__module__:
                return _fused_float(k)
            if k.__name__ in _QUANT_SPECIAL and "quantized" in k.__module__:
                return _QUANT_SPECIAL[k.__name__](k)
            if "sparse" in name:
                return k(4, 3, row_block_size=1, col_block_size=4)
            sig = inspect.signature(k.__init__)
            kw = {"qconfig": qcfg} if "qconfig" in sig.parameters else {}
            last = None
            for a in tries:
                try:
                    return k(*a, **kw)
                except Exception as e:
                    last = e
            raise last
        c.add("torch/quant/classes/%s.whole.pt" % name, "torch-quantized", "%s built directly, saved whole" % name,
              lambda p, build=build: save_zip(build(), 4)(p), "torch.load")
        c.add("torch/quant/classes/%s.state_dict.pt" % name, "torch-quantized", "%s built directly, state_dict" % name,
              lambda p, build=build: save_zip(build().state_dict())(p), "torch.load")


# ---- TorchScript -----------------------------------------------------------

def gen_jit(c):
    script = {
        "Linear": lambda: nn.Linear(4, 3),
        "Conv2d-BatchNorm": lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU()),
        "LSTM": lambda: nn.LSTM(4, 5, num_layers=2),
        "GRU": lambda: nn.GRU(4, 5, batch_first=True),
        "TransformerEncoderLayer": lambda: nn.TransformerEncoderLayer(8, 2, 16),
        "Transformer": lambda: nn.Transformer(d_model=8, nhead=2, num_encoder_layers=1, num_decoder_layers=1, dim_feedforward=16),
        "MultiheadAttention": lambda: nn.MultiheadAttention(8, 2),
        "Embedding": lambda: nn.Embedding(10, 4),
        "ModuleDict": lambda: nn.ModuleDict({"a": nn.Linear(2, 2)}),
        "ParameterList": lambda: nn.ParameterList([nn.Parameter(torch.randn(2))]),
        "Upsample": lambda: nn.Upsample(scale_factor=2),
    }
    for i, (n, mk) in enumerate(sorted(script.items())):
        c.add("torch/jit/script-%s.pt" % n, "torchscript", "torch.jit.script(%s)" % n, lambda p, mk=mk: torch.jit.save(torch.jit.script(mk()), p), "torch.jit.load")
    trace = {
        "Conv-net": (lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8, 3)), (torch.randn(1, 1, 6, 6),)),
        "LSTM": (lambda: nn.LSTM(3, 4), (torch.randn(2, 1, 3),)),
        "Bilinear": (lambda: nn.Bilinear(2, 3, 4), (torch.randn(1, 2), torch.randn(1, 3))),
        "TransformerEncoderLayer": (lambda: nn.TransformerEncoderLayer(8, 2, 16).eval(), (torch.randn(3, 1, 8),)),
        "Embedding-double": (lambda: nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 2)).double(), (torch.tensor([[1, 2]]),)),
    }
    for n, (mk, x) in sorted(trace.items()):
        c.add("torch/jit/trace-%s.pt" % n, "torchscript", "torch.jit.trace(%s)" % n, lambda p, mk=mk, x=x: torch.jit.save(torch.jit.trace(mk(), x), p), "torch.jit.load")
    c.add("torch/jit/script-extra-files.pt", "torchscript", "scripted module with _extra_files (json and a config)",
          lambda p: torch.jit.save(torch.jit.script(nn.Linear(2, 2)), p, _extra_files={"config.json": b'{"a": 1}', "notes.txt": b"hello"}), "torch.jit.load")
    c.add("torch/jit/frozen-conv.pt", "torchscript", "torch.jit.freeze of a scripted conv net in eval mode",
          lambda p: torch.jit.save(torch.jit.freeze(torch.jit.script(nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)).eval())), p), "torch.jit.load")
    c.add("torch/jit/optimized-for-inference.pt", "torchscript", "torch.jit.optimize_for_inference of a scripted model",
          lambda p: torch.jit.save(torch.jit.optimize_for_inference(torch.jit.script(nn.Sequential(nn.Linear(3, 3), nn.ReLU()).eval())), p), "torch.jit.load")

    def fn(x: torch.Tensor, y: int = 2) -> torch.Tensor:
        return x * y + 1
    c.add("torch/jit/script-function.pt", "torchscript", "a scripted function", lambda p: torch.jit.save(torch.jit.script(fn), p), "torch.jit.load")


# ---- parametrisations and hooks --------------------------------------------

def gen_param_hooks(c):
    from torch.nn.utils import parametrizations, parametrize, prune
    P = {
        "orthogonal": lambda: parametrizations.orthogonal(nn.Linear(3, 3)),
        "orthogonal-householder": lambda: parametrizations.orthogonal(nn.Linear(4, 3), orthogonal_map="householder"),
        "spectral_norm": lambda: parametrizations.spectral_norm(nn.Linear(4, 3)),
        "spectral_norm-conv": lambda: parametrizations.spectral_norm(nn.Conv2d(2, 3, 2)),
        "orthogonal-cached": lambda: parametrizations.orthogonal(nn.Linear(3, 3)),
    }
    inputs = {"conv": torch.randn(1, 2, 3, 3)}
    for n, mk in sorted(P.items()):
        def made(fwd, mk=mk, n=n):
            m = mk()
            if fwd:
                x = inputs["conv"] if "conv" in n else torch.randn(2, m.in_features)
                if "cached" in n:
                    with parametrize.cached():
                        m(x)
                else:
                    m(x)
            return m
        for stage in ("init", "fwd"):
            c.add("torch/parametrize/%s.%s.state_dict.pt" % (n, stage), "torch-parametrized", "parametrizations.%s, state_dict (%s)" % (n, stage),
                  lambda p, made=made, s=stage: save_zip(made(s == "fwd").state_dict())(p), "torch.load(weights_only=True)")
        c.add("torch/parametrize/%s.removed.whole.pt" % n, "torch-parametrized", "parametrizations.%s removed (leave_parametrized), saved whole" % n,
              lambda p, made=made: save_zip(remove_all(made(True)))(p), "torch.load")
    # Hooks torch itself installs: weight_norm, old-style spectral_norm,
    # pruning (forward pre-hooks that are objects of torch classes).
    H = {
        "weight_norm": lambda: nn.utils.weight_norm(nn.Linear(4, 3)),
        "weight_norm-dim-none": lambda: nn.utils.weight_norm(nn.Conv1d(2, 3, 2), dim=None),
        "spectral_norm": lambda: nn.utils.spectral_norm(nn.Linear(4, 3)),
        "spectral_norm-conv": lambda: nn.utils.spectral_norm(nn.ConvTranspose1d(2, 3, 2)),
        "prune-l1": lambda: prune.l1_unstructured(nn.Linear(4, 3), "weight", amount=0.3),
        "prune-random": lambda: prune.random_unstructured(nn.Linear(4, 3), "bias", amount=1),
        "prune-ln-structured": lambda: prune.ln_structured(nn.Conv1d(2, 3, 2), "weight", amount=0.5, n=2, dim=0),
        "prune-random-structured": lambda: prune.random_structured(nn.Linear(4, 3), "weight", amount=0.34, dim=1),
        "prune-custom-mask": lambda: prune.custom_from_mask(nn.Linear(2, 2), "weight", torch.tensor([[1, 0], [0, 1]])),
        "prune-identity": lambda: prune.identity(nn.Linear(2, 2), "weight"),
        "prune-twice": lambda: prune.l1_unstructured(prune.random_unstructured(nn.Linear(4, 3), "weight", 0.2), "weight", 0.2),
        "prune-global": lambda: _global_prune(),
    }
    for i, (n, mk) in enumerate(sorted(H.items())):
        proto = [2, 3, 4, 5][i % 4]

        def made(fwd, mk=mk, n=n):
            m = mk()
            if fwd:
                if isinstance(m, nn.Sequential):
                    m(torch.randn(2, 4))
                elif isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                    m(torch.randn(1, 2, 5))
                else:
                    m(torch.randn(2, m.in_features))
            return m
        for stage in ("init", "fwd"):
            c.add("torch/hooks/%s.%s.whole.pt" % (n, stage), "torch-hooks", "%s hooks, module saved whole (%s), protocol %d" % (n, stage, proto),
                  lambda p, made=made, s=stage: save_zip(made(s == "fwd"), proto)(p), "torch.load")
            c.add("torch/hooks/%s.%s.whole-legacy.pt" % (n, stage), "torch-hooks", "%s hooks, module saved whole (%s), legacy" % (n, stage),
                  lambda p, made=made, s=stage: save_legacy(made(s == "fwd"))(p), "torch.load")
            c.add("torch/hooks/%s.%s.state_dict.pt" % (n, stage), "torch-hooks", "%s hooks, state_dict (%s)" % (n, stage),
                  lambda p, made=made, s=stage: save_zip(made(s == "fwd").state_dict())(p), "torch.load")

    # State dicts of modules with user hooks: the hooks are not saved.
    def user_hooks():
        m = nn.Sequential(nn.Linear(3, 3), nn.ReLU())
        m.register_forward_hook(lambda mod, i, o: None)
        m.register_forward_pre_hook(lambda mod, i: None)
        m[0].register_full_backward_hook(lambda mod, gi, go: None)
        m._register_state_dict_hook(lambda mod, sd, prefix, local: None)
        m(torch.randn(2, 3)).sum().backward()
        return m.state_dict()
    c.add("torch/hooks/user-hooks.state_dict.pt", "torch-hooks", "state_dict of a module with user forward, backward and state_dict hooks",
          lambda p: save_zip(user_hooks())(p), "torch.load(weights_only=True)")


def _global_prune():
    from torch.nn.utils import prune
    m = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    prune.global_unstructured([(m[0], "weight"), (m[1], "weight")], pruning_method=prune.L1Unstructured, amount=0.4)
    return m


def remove_all(m):
    from torch.nn.utils import parametrize
    for mod in list(m.modules()):
        if parametrize.is_parametrized(mod):
            for name in list(mod.parametrizations.keys()):
                parametrize.remove_parametrizations(mod, name, leave_parametrized=True)
    return m


# ---- tensors and plain objects ---------------------------------------------

def tensors():
    x = torch.randn(3, 4)
    base = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    t = {}
    for dt in (torch.float32, torch.float64, torch.float16, torch.bfloat16, torch.complex64, torch.complex128,
               torch.int8, torch.int16, torch.int32, torch.int64, torch.uint8, torch.bool):
        t["dtype-" + str(dt).split(".")[1]] = (x * 10).to(dt)
    t["scalar"] = torch.tensor(3.5)
    t["empty"] = torch.empty(0, 3)
    t["zero-size-3d"] = torch.zeros(2, 0, 5, dtype=torch.int16)
    t["non-contiguous"] = base.transpose(0, 2)
    t["view-sharing-storage"] = {"a": base, "b": base[1], "c": base.view(-1)[5:9]}
    t["channels-last"] = torch.randn(2, 3, 4, 4).to(memory_format=torch.channels_last)
    t["channels-last-3d"] = torch.randn(1, 2, 2, 2, 2).to(memory_format=torch.channels_last_3d)
    t["sparse-coo"] = x.to_sparse()
    t["sparse-coo-uncoalesced"] = torch.sparse_coo_tensor(torch.tensor([[0, 0, 1], [1, 1, 2]]), torch.tensor([1.0, 2.0, 3.0]), (2, 3))
    t["sparse-csr"] = x.to_sparse_csr()
    t["meta"] = torch.empty(3, 2, device="meta")
    t["requires-grad"] = torch.randn(2, requires_grad=True)
    t["parameter"] = nn.Parameter(torch.randn(2, 2))
    t["parameter-frozen"] = nn.Parameter(torch.randn(2), requires_grad=False)
    t["storage-typed"] = torch.arange(5).storage()
    t["storage-untyped"] = torch.arange(5, dtype=torch.int8).untyped_storage() if hasattr(torch.Tensor, "untyped_storage") else torch.arange(5).storage().untyped()
    t["generator-state"] = torch.Generator().manual_seed(7).get_state()
    t["size-dtype-device"] = {"size": torch.Size([2, 3]), "dtype": torch.float16, "device": torch.device("cpu"), "device2": torch.device("cuda", 1),
                              "layout": torch.sparse_coo, "qscheme": torch.per_channel_affine}
    t["nested-containers"] = {"layers": [{"w": torch.randn(2, 2), "meta": ("conv", 3, None, True)}, (torch.ones(1), [torch.zeros(2)])],
                              "ids": set(range(3)), "fs": frozenset({"a"}), "c": 1 + 2j, "b": b"\x00\xff", "ba": bytearray(b"ab"),
                              "r": range(2, 9, 3), "s": slice(1, None, 2), "none": None, "big": 2 ** 80, "neg": -(2 ** 40), "f": -0.0,
                              "nan": float("nan"), "u": "é\u2603\U0001F600"}
    t["stdlib-values"] = {"od": collections.OrderedDict(a=1), "dd": collections.defaultdict(list, {"x": [1]}), "dq": collections.deque([1, 2], maxlen=4),
                          "ctr": collections.Counter("abca"), "dt": datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc),
                          "date": datetime.date(2020, 1, 1), "td": datetime.timedelta(days=1, seconds=3), "dec": decimal.Decimal("1.10"),
                          "frac": fractions.Fraction(3, 7), "uuid": uuid.UUID(int=12345), "path": pathlib.PurePosixPath("/a/b"),
                          "ns": argparse.Namespace(a=1, b=[2]), "sns": types.SimpleNamespace(x=1)}
    t["numpy-inside"] = {"arr": np.arange(6).reshape(2, 3), "f16": np.float16(1.5), "i64": np.int64(7), "dtype": np.dtype("<f4"),
                         "obj": np.array([1, "a", None], dtype=object), "rs": np.random.RandomState(3)}
    return t


def gen_tensors(c):
    for i, (n, v) in enumerate(sorted(tensors().items())):
        pz = [2, 3, 4, 5, 1][i % 5]
        pl = [2, 4, 5, 3, 1][(i + 2) % 5]
        wo = "torch.load" if n in ("numpy-inside", "stdlib-values", "nested-containers", "size-dtype-device", "meta") else "torch.load(weights_only=True)"
        c.add("torch/tensor/%s.pt" % n, "torch-tensor", "%s, zip, protocol %d" % (n, pz), save_zip(v, pz), wo if pz != 1 else "torch.load")
        c.add("torch/tensor/%s.legacy.pt" % n, "torch-tensor", "%s, legacy, protocol %d" % (n, pl), save_legacy(v, pl), "torch.load")
    # Plain pickle of torch objects: storages go through
    # torch.storage._load_from_bytes with a legacy torch.save inside.
    plain = {
        "tensor": torch.randn(2, 3),
        "tensor-int": torch.arange(4),
        "parameter": nn.Parameter(torch.randn(3)),
        "module-linear": nn.Linear(3, 2),
        "module-conv-bn": nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2)),
        "state_dict": nn.LSTM(2, 3).state_dict(),
        "optimizer-state": make_optimizer("Adam")[1].state_dict(),
        "size-dtype": (torch.Size([1, 2]), torch.bfloat16, torch.device("cpu")),
    }
    for n, v in sorted(plain.items()):
        for proto in range(0, 6):
            c.add("torch/pickle/%s.p%d.pkl" % (n, proto), "torch-plain-pickle", "pickle.dump of %s, protocol %d" % (n, proto), save_pickle(v, proto), "pickle.load")


SECTIONS = {"modules": gen_modules, "optim": gen_optim, "sched": gen_sched, "quant": gen_quant, "jit": gen_jit,
            "hooks": gen_param_hooks, "tensors": gen_tensors}
