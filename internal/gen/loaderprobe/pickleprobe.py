"""Asks CPython's two unpicklers which hand-assembled pickles they accept.

Run by hand:
    /usr/bin/python3 internal/gen/loaderprobe/pickleprobe.py
Tests never run this; analyzer/pickle/strict_test.go holds the same
streams. Every stream is benign: the only imports are builtins.list and
builtins.object, called with no arguments. For each stream it prints
whether the C unpickler (pickle.loads, what torch.load and numpy use) and
the pure-Python one (pickle._loads, what joblib uses) accept it.
"""
import pickle
import sys

FRAME = lambda n: b"\x95" + n.to_bytes(8, "little")  # noqa: E731

CASES = [
    # INT, LONG, FLOAT text
    ("INT octal", b"I010\n."),
    ("INT hex", b"I0x10\n."),
    ("INT spaces", b"I 12 \n."),
    ("INT underscores", b"I1_0\n."),
    ("INT leading zero 08", b"I08\n."),
    ("INT NUL then junk", b"I12\x00x\n."),
    ("INT empty", b"I\n."),
    ("INT float text", b"I1.0\n."),
    ("LONG hex", b"L0x10L\n."),
    ("LONG octal 010", b"L010\n."),
    ("LONG underscores", b"L1_0L\n."),
    ("LONG spaces", b"L 5 \n."),
    ("LONG empty", b"L\n."),
    ("FLOAT plain", b"F1.5\n."),
    ("FLOAT leading space", b"F 1.5\n."),
    ("FLOAT trailing space", b"F1.5 \n."),
    ("FLOAT underscores", b"F1_0.5\n."),
    ("FLOAT hex", b"F0x1p3\n."),
    ("FLOAT infinity", b"Finfinity\n."),
    ("FLOAT overflow", b"F1e999\n."),
    ("FLOAT NUL then junk", b"F1.5\x00x\n."),
    # memo text keys
    ("PUT/GET spaces", b"K\x01p 1\n0g1\n."),
    ("PUT/GET underscores", b"K\x01p1_0\n0g10\n."),
    ("PUT plus sign", b"K\x01p+1\n0g1\n."),
    ("PUT negative", b"K\x01p-1\n."),
    ("PUT empty", b"K\x01p\n."),
    ("GET hex", b"K\x01p16\n0g0x10\n."),
    ("GET missing", b"K\x01p1\n0g2\n."),
    ("BINGET missing", b"K\x01q\x01h\x02."),
    ("MEMOIZE on empty stack", b"\x94."),
    ("PUT inside empty mark", b"K\x01(q\x01."),
    # GLOBAL, INST, STACK_GLOBAL
    ("GLOBAL empty name", b"cbuiltins\n\n."),
    ("GLOBAL empty module", b"c\nlist\n."),
    ("STACK_GLOBAL bytes", b"C\x08builtinsC\x04list\x93."),
    ("STACK_GLOBAL str", b"\x8c\x08builtins\x8c\x04list\x93)R."),
    # calls
    ("REDUCE list args", b"cbuiltins\nlist\n]R."),
    ("NEWOBJ list args", b"cbuiltins\nobject\n]\x81."),
    # marks and the fence
    ("STOP with two values", b"K\x01K\x02."),
    ("STOP empty", b"."),
    ("STOP above a mark with nothing", b"K\x01(."),
    ("SETITEM on a dict below the mark", b"}K\x00(K\x01s1."),
    ("APPENDS on a list below two marks", b"]((K\x01e1."),
    ("SETITEMS on a dict below two marks", b"}((K\x00K\x01u1."),
    ("ADDITEMS on a set below two marks", b"\x8f((K\x01\x901."),
    ("APPEND on a list below the mark", b"](K\x01a1."),
    ("APPENDS with nothing below the mark", b"(K\x01e."),
    ("POP_MARK past the stack", b"}K\x00(K\x01s1K\x05."),
    ("TUPLE past the stack", b"}K\x00(K\x01st."),
    ("DICT odd items", b"(K\x01d."),
    ("SETITEMS odd items", b"}(K\x01u."),
    ("POP_MARK without mark", b"K\x011."),
    ("DUP on empty", b"2."),
    ("POP pops a mark", b"K\x01(0."),
    ("BUILD below the mark", b"](}b."),
    # lengths
    ("BINSTRING negative", b"T\xff\xff\xff\xff."),
    ("LONG4 negative", b"\x8b\xff\xff\xff\xff."),
    ("BINUNICODE truncated", b"X\x05\x00\x00\x00ab."),
    ("BINBYTES8 huge", b"\x8e" + (1 << 63).to_bytes(8, "little") + b"."),
    ("SHORT_BINUNICODE bad UTF-8", b"\x8c\x02\xc3(."),
    ("SHORT_BINUNICODE surrogate", b"\x8c\x03\xed\xa0\x80."),
    # framing
    ("FRAME longer than the data", b"\x80\x04" + FRAME(255) + b"K\x01."),
    ("opcode across the FRAME end", b"\x80\x04" + FRAME(1) + b"J\x01\x00\x00\x00."),
    ("FRAME inside a FRAME", b"\x80\x04" + FRAME(12) + b"K\x01" + FRAME(1) + b"."),
    # protocol and opcodes
    ("PROTO 6", b"\x80\x06N."),
    ("unknown opcode", b"N\xff."),
    ("protocol-4 opcode under PROTO 2", b"\x80\x02\x8c\x01a."),
    ("EXT1 unregistered", b"\x82\x01."),
    ("PERSID non-ASCII", b"P\xc3\xa9\n."),
    ("PERSID ASCII", b"Pab\n."),
]


class PersistentC(pickle.Unpickler):
    def persistent_load(self, pid):
        return pid


class PersistentPy(pickle._Unpickler):
    def persistent_load(self, pid):
        return pid


def run(loader, data):
    import io
    try:
        v = loader(io.BytesIO(data)).load()
        return "accepts", repr(v)[:30].split(" at 0x")[0]
    except Exception as e:  # noqa: BLE001 - we record every refusal
        return "rejects", "%s: %s" % (type(e).__name__, str(e).replace("\n", " ")[:50])


def main():
    w = sys.stdout.write
    w("// CPython %s: C unpickler, Python unpickler\n" % sys.version.split()[0])
    for name, data in CASES:
        c, cwhy = run(PersistentC, data)
        py, pywhy = run(PersistentPy, data)
        w("{%s, %s, %s, %s}, // C: %s; Python: %s\n" % (
            '"' + name + '"', "[]byte(%s)" % go_bytes(data), str(c == "accepts").lower(),
            str(py == "accepts").lower(), cwhy, pywhy))


def go_bytes(b):
    out = '"'
    for c in b:
        if 32 <= c < 127 and c not in (34, 92):
            out += chr(c)
        else:
            out += "\\x%02x" % c
    return out + '"'


if __name__ == "__main__":
    main()
