#!/usr/bin/python3
"""Clean, trained-like model weights for calibrating weight forensics.

    /usr/bin/python3 internal/gen/trainedweights/trained.py --out DIR [--count N]

Writes N safetensors models (72 by default) into DIR, named
clean-NN-ARCH-RECIPE.safetensors. They are the clean twins that
internal/gen/evilgen hides payloads in, and on which the false-positive
rate of `aigis scan --weights` is measured (docs/formats.md, weight
forensics). Only torch and numpy are needed (Debian's python3-torch);
nothing here is used by the Go tests or at run time.

Models, cycling over architectures, optimisers and precisions:

- trained for a few hundred steps on synthetic data (CPU, one thread):
  an MLP on a teacher network's labels, a small ResNet-style CNN with
  batch norm on class-dependent noise images, a small transformer
  language model on a random Markov chain;
- initialised like torchvision and Hugging Face models (ResNet-50
  shapes with Kaiming init, BERT-mini shapes with truncated normal
  init), then perturbed the way a few epochs of fine-tuning move them
  (additive noise, weight decay, a few rows moved further);

each saved as F32 (trained in fp32, or trained in bf16 and widened: the
bf16-origin case), F16 or BF16. The safetensors files are written by hand
(header, then raw little-endian tensors), like the reference writer.
"""

import argparse
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)


def save_safetensors(path, tensors):
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        if t.dtype == torch.bfloat16:
            raw, dt = t.view(torch.int16).numpy().tobytes(), "BF16"
        elif t.dtype == torch.float16:
            raw, dt = t.numpy().astype("<f2").tobytes(), "F16"
        elif t.dtype == torch.float32:
            raw, dt = t.numpy().astype("<f4").tobytes(), "F32"
        elif t.dtype == torch.int64:
            raw, dt = t.numpy().astype("<i8").tobytes(), "I64"
        else:
            raise ValueError(t.dtype)
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":"))
    h += " " * (-len(h) % 8)
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h.encode())
        for b in blobs:
            f.write(b)
    os.replace(path + ".tmp", path)


# --- trained models ---------------------------------------------------------


class LayerNorm(nn.LayerNorm):
    """LayerNorm that takes its input in its own dtype (CPU autocast in
    torch 1.13 hands it bf16 activations with fp32 weights)."""

    def forward(self, x):
        return super().forward(x.to(self.weight.dtype))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(256, 2048)
        self.fc2 = nn.Linear(2048, 2048)
        self.fc3 = nn.Linear(2048, 1024)
        self.norm = LayerNorm(1024)
        self.head = nn.Linear(1024, 16)

    def forward(self, x):
        x = F.gelu(self.fc1(x))
        x = F.gelu(self.fc2(x))
        return self.head(self.norm(F.gelu(self.fc3(x))))


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = None
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + (x if self.skip is None else self.skip(x)))


class CNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(64)
        self.layer1 = Block(64, 64, 1)
        self.layer2 = Block(64, 128, 2)
        self.layer3 = Block(128, 256, 2)
        self.layer4 = Block(256, 384, 2)
        self.fc = nn.Linear(384, 10)

    def forward(self, x):
        x = F.relu(self.bn(self.stem(x)))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(x.mean((2, 3)))


class TinyLM(nn.Module):
    def __init__(self, vocab=8192, d=384, layers=3):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.pos = nn.Parameter(torch.randn(64, d) * 0.02)
        self.blocks = nn.ModuleList(
            nn.TransformerEncoderLayer(d, 6, 4 * d, dropout=0.0, batch_first=True, norm_first=True) for _ in range(layers)
        )
        for b in self.blocks:
            b.norm1, b.norm2 = LayerNorm(d), LayerNorm(d)
        self.norm = LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, x):
        h = self.emb(x) + self.pos[: x.shape[1]]
        mask = torch.triu(torch.full((x.shape[1], x.shape[1]), float("-inf")), 1)
        for b in self.blocks:
            h = b(h, src_mask=mask)
        return self.head(self.norm(h))


def data_for(arch, g):
    if arch == "mlp":
        teacher = torch.randn(256, 16, generator=g)

        def batch():
            x = torch.randn(128, 256, generator=g)
            return x, (x @ teacher + 0.5 * torch.randn(128, 16, generator=g)).argmax(1)

        return batch
    if arch == "cnn":
        protos = torch.randn(10, 3, 32, 32, generator=g)

        def batch():
            y = torch.randint(0, 10, (32,), generator=g)
            return protos[y] * 0.7 + torch.randn(32, 3, 32, 32, generator=g), y

        return batch
    # A random sparse Markov chain: each token has 8 likely successors.
    succ = torch.randint(0, 8192, (8192, 8), generator=g)

    def batch():
        x = torch.empty(16, 65, dtype=torch.long)
        x[:, 0] = torch.randint(0, 8192, (16,), generator=g)
        for t in range(1, 65):
            x[:, t] = succ[x[:, t - 1], torch.randint(0, 8, (16,), generator=g)]
        return x[:, :-1], x[:, 1:]

    return batch


def train(arch, opt_name, precision, seed, steps):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1)
    model = {"mlp": MLP, "cnn": CNN, "lm": TinyLM}[arch]()
    if precision == "bf16":
        model = model.to(torch.bfloat16)  # pure bf16 training: bf16 weights
    params = model.parameters()
    opt = {
        "sgd": lambda: torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4),
        "adam": lambda: torch.optim.Adam(params, lr=1e-3),
        "adamw": lambda: torch.optim.AdamW(params, lr=2e-3, weight_decay=0.05),
    }[opt_name]()
    batch = data_for(arch, g)
    for step in range(steps):
        x, y = batch()
        if precision == "bf16" and x.is_floating_point():
            x = x.to(torch.bfloat16)
        if precision == "amp":
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = model(x)
        else:
            out = model(x)
        loss = F.cross_entropy(out.float().reshape(-1, out.shape[-1]), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    return model.state_dict(), float(loss)


# --- initialised and perturbed (torchvision / Hugging Face shapes) -----------


def resnet50_shapes():
    shapes = {"conv1.weight": (64, 3, 7, 7), "bn1.weight": (64,), "bn1.bias": (64,)}
    cin = 64
    for li, (n, mid) in enumerate([(3, 64), (4, 128), (6, 256), (3, 512)], 1):
        for b in range(n):
            p = f"layer{li}.{b}."
            shapes[p + "conv1.weight"] = (mid, cin, 1, 1)
            shapes[p + "bn1.weight"] = (mid,)
            shapes[p + "conv2.weight"] = (mid, mid, 3, 3)
            shapes[p + "bn2.weight"] = (mid,)
            shapes[p + "conv3.weight"] = (4 * mid, mid, 1, 1)
            shapes[p + "bn3.weight"] = (4 * mid,)
            shapes[p + "bn3.bias"] = (4 * mid,)
            if b == 0:
                shapes[p + "downsample.0.weight"] = (4 * mid, cin, 1, 1)
            cin = 4 * mid
    shapes["fc.weight"] = (1000, 2048)
    shapes["fc.bias"] = (1000,)
    return shapes


def bert_mini_shapes():
    d, ff = 256, 1024
    s = {
        "embeddings.word_embeddings.weight": (30522, d),
        "embeddings.position_embeddings.weight": (512, d),
        "embeddings.LayerNorm.weight": (d,),
        "embeddings.LayerNorm.bias": (d,),
    }
    for i in range(4):
        p = f"encoder.layer.{i}."
        for m in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
            s[p + m + ".weight"] = (d, d)
            s[p + m + ".bias"] = (d,)
        s[p + "attention.output.LayerNorm.weight"] = (d,)
        s[p + "intermediate.dense.weight"] = (ff, d)
        s[p + "intermediate.dense.bias"] = (ff,)
        s[p + "output.dense.weight"] = (d, ff)
        s[p + "output.LayerNorm.weight"] = (d,)
    return s


def init_perturbed(kind, seed, strength):
    torch.manual_seed(seed)
    out = {}
    shapes = resnet50_shapes() if kind == "resnet50" else bert_mini_shapes()
    for name, shape in shapes.items():
        t = torch.empty(shape)
        if name.endswith("bias"):
            nn.init.zeros_(t)
        elif "bn" in name or "LayerNorm" in name:
            nn.init.ones_(t)
        elif kind == "resnet50":
            nn.init.kaiming_normal_(t, mode="fan_out", nonlinearity="relu")
        else:
            nn.init.trunc_normal_(t, std=0.02, a=-0.04, b=0.04)
        std = float(t.std()) if t.numel() > 1 and float(t.std()) > 0 else 0.02
        # Fine-tuning: decay, small noise everywhere, a few rows moved more.
        t.mul_(1 - 0.01 * strength)
        t.add_(torch.randn(shape) * std * 0.05 * strength)
        if t.dim() >= 2:
            rows = torch.randperm(shape[0])[: max(1, shape[0] // 20)]
            t[rows] += torch.randn((len(rows),) + tuple(shape[1:])) * std * 0.3 * strength
        out[name] = t
    return out


# --- the set -------------------------------------------------------------------

ARCHS = ["mlp", "cnn", "lm", "resnet50", "bert-mini"]
OPTS = ["adamw", "sgd", "adam"]
# (training precision, saved dtype)
RECIPES = [("fp32", "F32"), ("bf16", "BF16"), ("fp32", "F16"), ("bf16", "F32"), ("amp", "F32"), ("fp32", "BF16")]


def cast(sd, dtype):
    out = {}
    for k, v in sd.items():
        if not v.is_floating_point():
            out[k] = v
        elif dtype == "F32":
            out[k] = v.float()
        elif dtype == "F16":
            out[k] = v.float().half()
        else:
            out[k] = v.to(torch.bfloat16)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--count", type=int, default=72)
    ap.add_argument("--start", type=int, default=0, help="first model number (to split the work between processes)")
    ap.add_argument("--steps", type=int, default=150)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for i in range(args.start, args.count):
        arch = ARCHS[i % len(ARCHS)]
        opt = OPTS[(i // len(ARCHS)) % len(OPTS)]
        prec, dtype = RECIPES[(i // (len(ARCHS) * len(OPTS)) + i) % len(RECIPES)]
        seed = 1000 + i
        if arch in ("resnet50", "bert-mini"):
            recipe = f"init-{prec}-{dtype.lower()}"
        else:
            recipe = f"{opt}-{prec}-{dtype.lower()}"
        path = os.path.join(args.out, f"clean-{i:02d}-{arch}-{recipe}.safetensors")
        if os.path.exists(path):
            continue
        if arch in ("resnet50", "bert-mini"):
            sd = init_perturbed(arch, seed, 1 + i % 3)
            if prec == "bf16":
                sd = cast(sd, "BF16")
        else:
            steps = args.steps if arch != "lm" else args.steps // 3
            sd, loss = train(arch, opt, prec, seed, steps)
            if not math.isfinite(loss):
                print("warning: non-finite loss", arch, recipe)
        save_safetensors(path, cast(sd, dtype))
        print(path, flush=True)


if __name__ == "__main__":
    main()
