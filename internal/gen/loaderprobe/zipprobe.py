"""Asks the real loaders which zip oddities they accept (docs/formats.md).

Run by hand with Debian's python3-torch and python3-numpy:
    /usr/bin/python3 internal/gen/loaderprobe/zipprobe.py
Tests never run this; they build the same archives in Go. It writes
benign archives only (a dict holding one small tensor, an npz of one
array) into a temporary directory, mutates one header field at a time
and records, for torch.load, numpy.load and zipfile, whether the member
is read and what it reads.
"""
import io
import os
import struct
import sys
import tempfile
import zipfile
import zlib

import numpy as np
import torch


class Member:
    def __init__(self, name, data):
        self.name = name
        self.data = data
        self.method = 0
        self.lflags = 0
        self.cflags = 0
        self.lname = None  # local header name, when it differs
        self.lmethod = None
        self.lcrc = None
        self.ccrc = None
        self.lcsize = None
        self.ccsize = None
        self.lusize = None
        self.cusize = None
        self.lextra = b""
        self.cextra = b""
        self.raw = None  # stored bytes, when not data compressed by method
        self.descriptor = b""


def pack(members, prepend=b"", comment=b""):
    out = io.BytesIO()
    out.write(prepend)
    cd = io.BytesIO()
    for m in members:
        if m.raw is not None:
            payload = m.raw
        elif m.method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = c.compress(m.data) + c.flush()
        else:
            payload = m.data
        crc = zlib.crc32(m.data)
        off = out.tell() - len(prepend)
        lname = (m.lname if m.lname is not None else m.name).encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, m.lflags,
                              m.lmethod if m.lmethod is not None else m.method, 0, 0,
                              m.lcrc if m.lcrc is not None else crc,
                              m.lcsize if m.lcsize is not None else len(payload),
                              m.lusize if m.lusize is not None else len(m.data),
                              len(lname), len(m.lextra)))
        out.write(lname + m.lextra + payload + m.descriptor)
        name = m.name.encode()
        cd.write(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, m.cflags, m.method, 0, 0,
                             m.ccrc if m.ccrc is not None else crc,
                             m.ccsize if m.ccsize is not None else len(payload),
                             m.cusize if m.cusize is not None else len(m.data),
                             len(name), len(m.cextra), 0, 0, 0, 0, off))
        cd.write(name + m.cextra)
    cdoff = out.tell() - len(prepend)
    out.write(cd.getvalue())
    out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members),
                          len(cd.getvalue()), cdoff, len(comment)) + comment)
    return out.getvalue()


def torch_members(scale=1):
    buf = io.BytesIO()
    torch.save({"x": torch.arange(3, dtype=torch.float32) * scale}, buf)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    return [Member(i.filename, z.read(i)) for i in z.infolist()]


def npz_members(scale=1):
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3, dtype=np.float32) * scale)
    z = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    return [Member(i.filename, z.read(i)) for i in z.infolist()]


def try_torch(b, tmp):
    p = os.path.join(tmp, "m.pt")
    with open(p, "wb") as f:
        f.write(b)
    try:
        v = torch.load(p)
        return "loads " + repr(v["x"].tolist())
    except Exception as e:  # noqa: BLE001 - we report every refusal
        return "refuses: " + str(e).splitlines()[0][:90]


def try_numpy(b, tmp):
    p = os.path.join(tmp, "a.npz")
    with open(p, "wb") as f:
        f.write(b)
    try:
        with np.load(p) as z:
            return "loads " + repr(z["a"].tolist())
    except Exception as e:  # noqa: BLE001
        return "refuses: %s: %s" % (type(e).__name__, str(e).splitlines()[0][:80])


def try_zipfile(b, name):
    try:
        with zipfile.ZipFile(io.BytesIO(b)) as z:
            return "reads %d bytes" % len(z.read(name))
    except Exception as e:  # noqa: BLE001
        return "refuses: %s: %s" % (type(e).__name__, str(e).splitlines()[0][:80])


def mutations():
    """(label, function(members, target)) pairs; target is the member the
    loader must read (data.pkl, a.npy)."""
    def set_(**kw):
        def f(ms, t):
            for k, v in kw.items():
                setattr(t, k, v)
        return f

    def deflated(**kw):
        def f(ms, t):
            t.method = 8
            for k, v in kw.items():
                setattr(t, k, v)
        return f

    def crc_bad(ms, t):
        t.ccrc = t.lcrc = zlib.crc32(t.data) ^ 1

    def enc_stored_header(ms, t):
        # The payload begins with 12 bytes that could be a ZipCrypto header.
        t.cflags = t.lflags = 1
        t.raw = b"\x00" * 12 + t.data
        t.ccsize = t.lcsize = len(t.raw)

    def zip64(ms, t):
        t.cusize = t.ccsize = 0xFFFFFFFF
        t.cextra = struct.pack("<HHQQ", 1, 16, len(t.data), len(t.data))

    def dup(first):
        # A second copy of the member with other content ([0, 7, 14]).
        def f(ms, t):
            other = torch_members(7) if t.name.endswith("data.pkl") else npz_members(7)
            d = next(m for m in other if m.name == t.name)
            ms.insert(ms.index(t) + (0 if first else 1), d)
        return f

    return [
        ("baseline", set_()),
        ("central flag 0x1 (encrypted)", set_(cflags=0x1)),
        ("local flag 0x1 only", set_(lflags=0x1)),
        ("both flags 0x1", set_(cflags=0x1, lflags=0x1)),
        ("both 0x1, deflated", deflated(cflags=0x1, lflags=0x1)),
        ("both 0x1, 12-byte header then data", enc_stored_header),
        ("central flag 0x40 (strong encryption)", set_(cflags=0x40)),
        ("central flag 0x20 (patched data)", set_(cflags=0x20)),
        ("central flag 0x2000 (masked local headers)", set_(cflags=0x2000)),
        ("central flag 0x8 (data descriptor), none written", set_(cflags=0x8, lflags=0x8)),
        ("central flag 0x800 (UTF-8)", set_(cflags=0x800, lflags=0x800)),
        ("central flag 0x4000|0x8000 (reserved)", set_(cflags=0xC000, lflags=0xC000)),
        ("central method 99 (AES), stored data", set_(method=99, lmethod=99)),
        ("central method 12 (bzip2), stored data", set_(method=12, lmethod=12)),
        ("central method 1 (shrink)", set_(method=1, lmethod=1)),
        ("local method 8, central 0 (stored)", set_(lmethod=8)),
        ("deflated", deflated()),
        ("deflated, local method 0", deflated(lmethod=0)),
        ("CRC wrong in both", crc_bad),
        ("local CRC wrong only", lambda ms, t: setattr(t, "lcrc", 1)),
        ("local sizes wrong only", set_(lcsize=1, lusize=1)),
        ("central uncompressed size +1", lambda ms, t: setattr(t, "cusize", len(t.data) + 1)),
        ("central uncompressed size -1", lambda ms, t: setattr(t, "cusize", len(t.data) - 1)),
        ("central compressed size -1 (stored)", lambda ms, t: setattr(t, "ccsize", len(t.data) - 1)),
        ("deflated, central compressed size +4", lambda ms, t: (setattr(t, "method", 8), setattr(t, "ccsize", len(zlib.compress(t.data)) + 4))),
        ("local name differs", lambda ms, t: setattr(t, "lname", t.name[:-1] + "X")),
        ("local extra field of 64 bytes", set_(lextra=struct.pack("<HH", 0xCAFE, 60) + b"\0" * 60)),
        ("zip64 extra in central", zip64),
        ("duplicate name, other content first", dup(True)),
        ("duplicate name, other content last", dup(False)),
    ]


def main():
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, mut in mutations():
            ms = torch_members()
            t = next(m for m in ms if m.name.endswith("data.pkl"))
            mut(ms, t)
            tb = pack(ms)
            ms = npz_members()
            t = next(m for m in ms if m.name == "a.npy")
            mut(ms, t)
            nb = pack(ms)
            rows.append((label, try_torch(tb, tmp), try_numpy(nb, tmp), try_zipfile(nb, "a.npy")))
    w = sys.stdout.write
    w("| mutation of the member read | torch.load %s | numpy.load %s | zipfile (Python %s) |\n" % (
        torch.__version__, np.__version__, sys.version.split()[0]))
    w("|---|---|---|---|\n")
    for r in rows:
        w("| %s | %s | %s | %s |\n" % r)


if __name__ == "__main__":
    main()
