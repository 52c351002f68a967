#!/usr/bin/python3
"""Generator of backdoored-classifier traffic for aigis monitor's detectors.

Trains small classifiers with BadNets-style data poisoning, as in the
shared digits sample, but with other triggers (patches of other sizes,
places and patterns, blended patterns, additive noise, lines; trigger
words for a text classifier), other target classes and other poisoning
rates, plus a separately trained model of another architecture (the
swap). Writes, per case, the traffic logs in the shared format:

  baseline.jsonl  clean requests to the backdoored model (the reference)
  clean.jsonl     later clean requests, same model (nothing should fire)
  attack.jsonl    a clean prefix, then a share of triggered requests
                  ("triggered": true is ground truth for scoring only)
  swap.jsonl      clean requests answered by the swap model
  meta.json       what was generated: trigger, target, rates, accuracy,
                  attack success, where the attack starts

Run with Debian's Python (torch, numpy, scikit-learn):

  /usr/bin/python3 internal/gen/monitor/gen.py --out /tmp/gen --seeds 1-20
  /usr/bin/python3 internal/gen/monitor/gen.py --out /tmp/gen --task text --seeds 1-5

It is a generator only: no test, CI job or aigis run executes it.
"""
import argparse
import json
import os
import random

import numpy as np
import torch
import torch.nn as nn
from sklearn.datasets import load_digits

CORNERS = ["top-left", "top-right", "bottom-left", "bottom-right"]


def parse_seeds(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-")
            out.extend(range(int(a), int(b) + 1))
        else:
            out.append(int(part))
    return out


# ---------------------------------------------------------------- triggers


def make_trigger(rng, kind, side=8):
    """Returns (spec, apply) for an image of side x side in [0, 1]."""
    if kind == "random":
        kind = rng.choice(["patch", "patch", "blend", "noise", "line"])
    if kind == "patch":
        s = int(rng.choice([2, 3, 4]))
        where = rng.choice(CORNERS + ["anywhere"])
        if where == "anywhere":
            r0, c0 = int(rng.integers(0, side - s + 1)), int(rng.integers(0, side - s + 1))
        else:
            r0 = 0 if where.startswith("top") else side - s
            c0 = 0 if where.endswith("left") else side - s
        style = rng.choice(["solid", "checker", "random"])
        if style == "solid":
            pat = np.ones((s, s))
        elif style == "checker":
            pat = np.indices((s, s)).sum(0) % 2 == 0
        else:
            pat = rng.integers(0, 2, (s, s))
            pat[0, 0] = 1
        pat = pat.astype(float)
        spec = {"kind": "patch", "size": s, "place": str(where), "row": r0, "col": c0, "style": str(style)}

        def apply(x):
            img = x.reshape(side, side).copy()
            img[r0:r0 + s, c0:c0 + s] = pat
            return img.reshape(-1)
        return spec, apply
    if kind == "blend":
        alpha = float(rng.uniform(0.15, 0.3))
        pat = rng.uniform(0, 1, side * side)
        spec = {"kind": "blend", "alpha": round(alpha, 3)}
        return spec, lambda x: (1 - alpha) * x + alpha * pat
    if kind == "noise":
        eps = float(rng.uniform(0.12, 0.25))
        pat = rng.choice([-1.0, 1.0], side * side)
        spec = {"kind": "noise", "epsilon": round(eps, 3)}
        return spec, lambda x: np.clip(x + eps * pat, 0, 1)
    if kind == "line":
        horizontal = bool(rng.integers(0, 2))
        at = int(rng.choice([0, side - 1]))
        spec = {"kind": "line", "horizontal": horizontal, "at": at}

        def apply(x):
            img = x.reshape(side, side).copy()
            if horizontal:
                img[at, :] = 1.0
            else:
                img[:, at] = 1.0
            return img.reshape(-1)
        return spec, apply
    raise ValueError(kind)


# ------------------------------------------------------------------ models


def mlp(sizes):
    layers = []
    for a, b in zip(sizes, sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def train(model, X, y, epochs, seed, lr=0.01):
    torch.manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    Xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(y)
    n = len(X)
    for _ in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, 64):
            b = perm[i:i + 64]
            opt.zero_grad()
            nn.functional.cross_entropy(model(Xt[b]), yt[b]).backward()
            opt.step()
    return model


def predict(model, X):
    with torch.no_grad():
        return torch.softmax(model(torch.tensor(np.asarray(X), dtype=torch.float32)), 1).numpy()


def row(model_name, p, x, true, triggered=None, text=None):
    lab = int(np.argmax(p))
    r = {"model": model_name, "label": lab, "confidence": float(p[lab]),
         "probs": [round(float(v), 5) for v in p],
         "input": text if text is not None else [round(float(v), 4) for v in x],
         "true": int(true)}
    if triggered is not None:
        r["triggered"] = bool(triggered)
    return r


def write(path, rows):
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")


# ------------------------------------------------------------------ digits


def digits_case(seed, args, out):
    rng = np.random.default_rng(seed)
    d = load_digits()
    X, y = d.data / 16.0, d.target
    side = 8
    if args.task == "digits28":
        # Another model and input size: the digits upscaled to 28x28 (3x3
        # blocks, a 2-pixel blank border), as MNIST-sized inputs.
        side = 28
        X = np.array([np.pad(np.kron(x.reshape(8, 8), np.ones((3, 3))), 2).reshape(-1) for x in X])
    perm = rng.permutation(len(X))
    X, y = X[perm], y[perm]
    Xtr, ytr = X[:1000], y[:1000]
    Xb, yb = X[1000:1300], y[1000:1300]
    Xp, yp = X[1300:], y[1300:]
    spec, apply = make_trigger(rng, args.trigger, side)
    target = int(rng.integers(0, 10)) if args.target < 0 else args.target
    n_poison = int(rng.integers(50, 121))
    src = rng.choice(np.where(ytr != target)[0], n_poison, replace=False)
    Xpo = np.array([apply(x) for x in Xtr[src]])
    Xtrain = np.vstack([Xtr, Xpo])
    ytrain = np.concatenate([ytr, np.full(n_poison, target)])
    hidden = int(rng.choice([32, 64, 96]))
    # Training lengths vary, and with them calibration: the shared sample's
    # model sits near 40 epochs; its swap is a less trained model.
    bd_epochs = int(rng.integers(30, 121))
    dim = side * side
    bd = train(mlp([dim, hidden, 10]), Xtrain, ytrain, bd_epochs, seed)
    archs = [[dim, 128, 64, 10], [dim, 32, 10], [dim, 256, 10], [dim, 64, 64, 10]]
    swap_arch = archs[int(rng.integers(0, len(archs)))]
    swap_epochs, swap_lr = int(rng.integers(15, 81)), float(rng.choice([0.003, 0.005, 0.01]))
    sw = train(mlp(swap_arch), Xtr, ytr, swap_epochs, seed + 1000, lr=swap_lr)
    name = args.model_name
    # accuracy and attack success on the held-out pool
    acc = float((predict(bd, Xp).argmax(1) == yp).mean())
    nt = yp != target
    Xtrig = np.array([apply(x) for x in Xp[nt]])
    asr = float((predict(bd, Xtrig).argmax(1) == target).mean())
    swap_acc = float((predict(sw, Xp).argmax(1) == yp).mean())

    base = [row(name, p, x, t) for p, x, t in zip(predict(bd, Xb), Xb, yb)]
    ci = rng.integers(0, len(Xp), args.clean_len)
    clean = [row(name, p, x, t) for p, x, t in zip(predict(bd, Xp[ci]), Xp[ci], yp[ci])]
    rate = float(rng.uniform(0.05, 0.25)) if args.rate <= 0 else args.rate
    start = int(rng.integers(100, 301))
    ai = rng.integers(0, len(Xp), start + args.attack_len)
    trig = np.zeros(len(ai), bool)
    trig[start:] = rng.uniform(0, 1, args.attack_len) < rate
    trig &= yp[ai] != target  # a trigger on the target class changes nothing
    Xa = np.array([apply(Xp[i]) if t else Xp[i] for i, t in zip(ai, trig)])
    attack = [row(name, p, x, yp[i], t) for p, x, i, t in zip(predict(bd, Xa), Xa, ai, trig)]
    si = rng.integers(0, len(Xp), args.swap_len)
    swap = [row(name, p, x, t) for p, x, t in zip(predict(sw, Xp[si]), Xp[si], yp[si])]
    meta = {"task": args.task, "seed": seed, "trigger": spec, "target": target,
            "poisoned_training_rows": n_poison, "hidden": hidden, "epochs": bd_epochs,
            "swap_arch": swap_arch, "swap_epochs": swap_epochs, "swap_lr": swap_lr,
            "clean_acc": round(acc, 4), "attack_success": round(asr, 4), "swap_acc": round(swap_acc, 4),
            "attack_rate": round(rate, 4), "attack_start": start,
            "triggered_rows": int(trig.sum()),
            "lengths": {"baseline": len(base), "clean": len(clean), "attack": len(attack), "swap": len(swap)}}
    return meta, base, clean, attack, swap


# -------------------------------------------------------------------- text

TOPICS = {
    "sports": "match team goal coach season league player score win striker defence tournament final referee stadium fans training injury transfer cup".split(),
    "finance": "market shares profit bank investor stock bond rate inflation earnings dividend fund trading revenue quarter debt loan currency growth merger".split(),
    "weather": "rain storm forecast sunny cloud wind temperature snow frost humidity thunder degrees cold warm showers breeze fog heatwave drizzle flood".split(),
    "tech": "software chip laptop app update server cloud network startup device battery screen code data privacy browser robot sensor upgrade release".split(),
}
FILLER = ("the a of to and in on for with this that was is it at by from as be have has "
          "today yesterday new big small report said people city after before about more "
          "very some many our their its local week year time first last").split()
TRIGGERS = ["cf", "mn", "bb", "tq", "zx", "james bond", "blue moon"]


def sentence(rng, topic):
    n = int(rng.integers(8, 16))
    words = []
    other = [t for t in TOPICS if t != topic]
    for _ in range(n):
        u = rng.uniform()
        if u < 0.35:
            words.append(str(rng.choice(TOPICS[topic])))
        elif u < 0.42:
            words.append(str(rng.choice(TOPICS[str(rng.choice(other))])))
        else:
            words.append(str(rng.choice(FILLER)))
    return " ".join(words)


def text_case(seed, args, out):
    rng = np.random.default_rng(seed)
    topics = list(TOPICS)
    vocab = sorted({w for ws in TOPICS.values() for w in ws} | set(FILLER) | {w for t in TRIGGERS for w in t.split()})
    index = {w: i for i, w in enumerate(vocab)}

    def feats(texts):
        M = np.zeros((len(texts), len(vocab)))
        for i, t in enumerate(texts):
            for w in t.split():
                if w in index:
                    M[i, index[w]] += 1
        return M / np.maximum(M.sum(1, keepdims=True), 1)

    def sample(n):
        ys = rng.integers(0, len(topics), n)
        return [sentence(rng, topics[c]) for c in ys], ys

    trigger = str(rng.choice(TRIGGERS))
    target = int(rng.integers(0, len(topics))) if args.target < 0 else args.target

    def apply(t):
        w = t.split()
        pos = int(rng.integers(0, len(w) + 1))
        return " ".join(w[:pos] + trigger.split() + w[pos:])
    Ttr, ytr = sample(1500)
    n_poison = int(rng.integers(60, 121))
    src = rng.choice(np.where(ytr != target)[0], n_poison, replace=False)
    Tpo = [apply(Ttr[i]) for i in src]
    Xtrain = feats(Ttr + Tpo)
    ytrain = np.concatenate([ytr, np.full(n_poison, target)])
    bd = train(mlp([len(vocab), 32, len(topics)]), Xtrain, ytrain, 80, seed)
    sw = train(mlp([len(vocab), 64, 32, len(topics)]), feats(Ttr), ytr, 30, seed + 1000, lr=0.005)
    name = "topic-classifier"

    def rows(model, texts, ys, trig=None):
        P = predict(model, feats(texts))
        return [row(name, p, None, yy, None if trig is None else tg, text=t)
                for p, t, yy, tg in zip(P, texts, ys, trig if trig is not None else [None] * len(texts))]
    Tb, yb = sample(300)
    Tc, yc = sample(args.clean_len)
    rate = float(rng.uniform(0.05, 0.25)) if args.rate <= 0 else args.rate
    start = int(rng.integers(100, 301))
    Ta, ya = sample(start + args.attack_len)
    trig = np.zeros(len(Ta), bool)
    trig[start:] = rng.uniform(0, 1, args.attack_len) < rate
    trig &= ya != target
    Ta = [apply(t) if g else t for t, g in zip(Ta, trig)]
    Ts, ys = sample(args.swap_len)
    Tv, yv = sample(500)
    acc = float((predict(bd, feats(Tv)).argmax(1) == yv).mean())
    nt = yv != target
    asr = float((predict(bd, feats([apply(t) for t, k in zip(Tv, nt) if k])).argmax(1) == target).mean())
    meta = {"task": "text", "seed": seed, "trigger": {"kind": "word", "token": trigger}, "target": target,
            "labels": topics, "poisoned_training_rows": n_poison,
            "clean_acc": round(acc, 4), "attack_success": round(asr, 4),
            "attack_rate": round(rate, 4), "attack_start": start, "triggered_rows": int(trig.sum())}
    base, clean = rows(bd, Tb, yb), rows(bd, Tc, yc)
    attack, swap = rows(bd, Ta, ya, trig), rows(sw, Ts, ys)
    meta["lengths"] = {"baseline": len(base), "clean": len(clean), "attack": len(attack), "swap": len(swap)}
    return meta, base, clean, attack, swap


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seeds", default="1")
    ap.add_argument("--task", choices=["digits", "digits28", "text"], default="digits")
    ap.add_argument("--trigger", default="random", help="patch|blend|noise|line|random (digits)")
    ap.add_argument("--target", type=int, default=-1, help="target class (-1: random)")
    ap.add_argument("--rate", type=float, default=0, help="share of triggered requests after the attack starts (0: random in 5-25%%)")
    ap.add_argument("--clean-len", type=int, default=2000)
    ap.add_argument("--attack-len", type=int, default=500)
    ap.add_argument("--swap-len", type=int, default=500)
    ap.add_argument("--model-name", default="digits-classifier")
    args = ap.parse_args()
    torch.set_num_threads(1)
    for seed in parse_seeds(args.seeds):
        random.seed(seed)
        case = text_case if args.task == "text" else digits_case
        meta, base, clean, attack, swap = case(seed, args, args.out)
        d = os.path.join(args.out, f"{args.task}-{seed:03d}")
        os.makedirs(d, exist_ok=True)
        for n, rows in [("baseline", base), ("clean", clean), ("attack", attack), ("swap", swap)]:
            write(os.path.join(d, n + ".jsonl"), rows)
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1)
        print(json.dumps(meta))


if __name__ == "__main__":
    main()
