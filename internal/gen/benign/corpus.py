"""Shared plumbing of the corpus generators: deterministic seeding, writing
a file, loading it back with its own library, and the manifest.

Run only with Debian's /usr/bin/python3 (python3-torch, python3-sklearn,
python3-numpy, python3-joblib, python3-scipy, python3-onnx, python3-h5py).
Nothing here is used by aigis at build, test or run time.
"""

import contextlib
import hashlib
import json
import os
import pickle
import random
import sys
import time
import traceback
import zlib

# 2024-01-01T00:00:00Z: what time.time() says while an entry is written, so
# that zip and gzip timestamps and recorded fit times do not vary by run.
EPOCH = 1704067200.0


@contextlib.contextmanager
def fake_clock():
    real = time.time
    ticks = [0]

    def clock():
        ticks[0] += 1
        return EPOCH + ticks[0] * 0.001
    time.time = clock
    try:
        yield
    finally:
        time.time = real


def ensure_hash_seed():
    """Sets and str hashes are randomised per process unless
    PYTHONHASHSEED is fixed; pickles of sets depend on it."""
    if os.environ.get("PYTHONHASHSEED") != "0":
        env = dict(os.environ, PYTHONHASHSEED="0")
        os.execve(sys.executable, [sys.executable] + sys.argv, env)


def seed_all(name):
    """Seeds every generator from the entry's name, so that an entry's
    bytes do not depend on which entries were made before it."""
    s = zlib.crc32(name.encode())
    random.seed(s)
    try:
        import numpy as np

        np.random.seed(s)
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(s)
    except ImportError:
        pass
    return s


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return h.hexdigest()


# ---- loaders: each proves that the file is what its library reads --------


def load_torch(p):
    import torch

    torch.load(p, weights_only=False)


def load_torch_weights_only(p):
    import torch

    torch.load(p, weights_only=True)


def load_jit(p):
    import torch

    torch.jit.load(p)


def load_pickle(p):
    with open(p, "rb") as f:
        pickle.load(f)


def load_pickle_all(p):
    """Every consecutive stream, as a loader that calls pickle.load until
    the end of the file does."""
    with open(p, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        while f.tell() < size:
            pickle.load(f)


def load_joblib(p):
    import joblib

    joblib.load(p)


def load_numpy(p):
    import numpy as np

    r = np.load(p, allow_pickle=True)
    if hasattr(r, "files"):
        for k in r.files:
            r[k]
        r.close()


def load_numpy_plain(p):
    import numpy as np

    r = np.load(p, allow_pickle=False)
    if hasattr(r, "files"):
        for k in r.files:
            r[k]
        r.close()


def load_onnx(p):
    import onnx

    m = onnx.load(p)
    onnx.checker.check_model(m)


def load_h5py(p):
    import h5py

    with h5py.File(p, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                obj[()]
            dict(obj.attrs)

        f.visititems(visit)
        dict(f.attrs)


def load_sparse_npz(p):
    import scipy.sparse

    scipy.sparse.load_npz(p)


def load_mat(p):
    import scipy.io

    scipy.io.loadmat(p)


LOADERS = {
    "torch.load": load_torch,
    "torch.load(weights_only=True)": load_torch_weights_only,
    "torch.jit.load": load_jit,
    "pickle.load": load_pickle,
    "pickle.load*": load_pickle_all,
    "joblib.load": load_joblib,
    "numpy.load(allow_pickle=True)": load_numpy,
    "numpy.load": load_numpy_plain,
    "onnx.load": load_onnx,
    "h5py.File": load_h5py,
    "scipy.sparse.load_npz": load_sparse_npz,
    "scipy.io.loadmat": load_mat,
}


FALLBACK = {"torch.load(weights_only=True)": "torch.load"}


class Corpus:
    """Writes entries under root and records them in a manifest."""

    def __init__(self, root, verbose=False):
        self.root = os.path.abspath(root)
        self.entries = []
        self.skipped = []  # (path, stage, error): not written, or not loadable
        self.verbose = verbose
        self.seen = set()

    def add(self, rel, kind, what, write, loader, **extra):
        """write(path) makes the file; loader (a LOADERS key) reads it back.
        A file its own loader cannot read is not genuine: it is deleted and
        listed as skipped."""
        if rel in self.seen:
            raise ValueError("duplicate corpus path " + rel)
        self.seen.add(rel)
        path = os.path.join(self.root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        seed_all(rel)
        try:
            with fake_clock():
                write(path)
        except Exception as e:  # a library that cannot write this object
            self._skip(rel, path, "write", e)
            return False
        try:
            LOADERS[loader](path)
        except Exception as e:
            if loader not in FALLBACK:
                self._skip(rel, path, "load", e)
                return False
            # torch 1.13's weights_only unpickler rejects some opcodes of
            # protocols other than 2; the file is still what torch.load reads.
            loader = FALLBACK[loader]
            try:
                LOADERS[loader](path)
            except Exception as e:
                self._skip(rel, path, "load", e)
                return False
        e = {"path": rel, "sha256": sha256(path), "size": os.path.getsize(path), "kind": kind,
             "what": what, "loader": loader, "loads_ok": True}
        e.update(extra)
        self.entries.append(e)
        if self.verbose:
            print(rel, file=sys.stderr)
        return True

    def _skip(self, rel, path, stage, e):
        if os.path.exists(path):
            os.remove(path)
        msg = "".join(traceback.format_exception_only(type(e), e)).strip().splitlines()[-1][:300]
        self.skipped.append({"path": rel, "stage": stage, "error": msg})
        if self.verbose:
            print("skip", rel, stage, msg, file=sys.stderr)

    def write_manifest(self, versions, name="manifest.json"):
        doc = {"versions": versions, "files": sorted(self.entries, key=lambda e: e["path"]),
               "skipped": sorted(self.skipped, key=lambda e: e["path"])}
        with open(os.path.join(self.root, name), "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        return doc


def write_hash_list(doc, path, header):
    """The small record kept in the repository: one line per file."""
    with open(path, "w") as f:
        f.write(header)
        f.write("# " + " ".join("%s=%s" % kv for kv in sorted(doc["versions"].items())) + "\n")
        f.write("# sha256\tsize\tkind\tloader\tpath\n")
        for e in doc["files"]:
            f.write("%s\t%d\t%s\t%s\t%s\n" % (e["sha256"], e["size"], e["kind"], e["loader"], e["path"]))
        for s in doc["skipped"]:
            f.write("# skipped %s (%s): %s\n" % (s["path"], s["stage"], s["error"].replace("\n", " ")))


def library_versions():
    v = {"python": "%d.%d.%d" % sys.version_info[:3]}
    for mod in ("torch", "sklearn", "numpy", "scipy", "joblib", "onnx", "h5py"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:
            pass
    return v
