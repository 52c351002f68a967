"""Asks numpy which .npy headers it accepts (analyzer/numpy/header_test.go).

Run by hand with Debian's python3-numpy:
    /usr/bin/python3 internal/gen/loaderprobe/npyprobe.py
Tests never run this. For each header text and format version it builds
an .npy file (no pickle: an object array gets an empty body, so loading
stops at the unpickling step) and prints, as Go table rows, whether
numpy.load accepts the header and what dtype it reads: its item size and
whether it holds Python objects (a pickle follows the header). Header
text is latin-1 for versions 1 and 2, UTF-8 for version 3, as numpy
decodes it.
"""
import io
import json
import struct
import sys
import warnings

import numpy as np
from numpy.lib import format as npformat

CASES = [
    # (version, header)
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"),
    ((1, 0), "{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}"),
    ((1, 0), "{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': [2]}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (True,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'extra': 1}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False}"),
    ((1, 0), "{'descr': '<f4', 'descr': '|O', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "  {'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "\n{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "\n  {'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', # a comment\n 'fortran_order': False, 'shape': (2,)}  # end"),
    ((1, 0), "{'descr': '<f4',\r\n 'fortran_order': False,\r 'shape': (2,)}"),
    ((1, 0), "{'descr':\t'<f4',\f'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\x00\x00"),
    ((1, 0), "{'descr': '<f' '4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': u'<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': r'<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': b'<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '''<f4''', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '\\u003cf4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '\\N{LESS-THAN SIGN}f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '\\74f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f\\\n4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, \\\n'shape': (2,)}"),
    ((1, 0), "{'descr': f'<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (0x2, 0o1, 0b1, 1_0)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (02,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3L)}"),
    ((2, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2L, 3 L)}"),
    ((3, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2l,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (+2, -0)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (- - 2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2.0,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (1+2j,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (...,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': None, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,),,}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': ()}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} {}"),
    ((1, 0), "({'descr': '<f4', 'fortran_order': False, 'shape': (2,)})"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}\xa0"),
    ((1, 0), "{'descr': [('\xe9', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
    ((3, 0), "{'descr': [('\u00e9', '<f4')], 'fortran_order': False, 'shape': (2,)}"),
    ((1, 0), "{'descr': '" + "(" * 198 + "2,)f4" + ")" * 198 + "', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 200 + "2," + ")" * 200 + "}"),
    ((1, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 198 + "2," + ")" * 198 + "}"),
    ((1, 1), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
    ((4, 0), "{'descr': '<f4', 'fortran_order': False, 'shape': (2,)}"),
    # descr strings: what numpy.dtype(str) makes of them
    ((1, 0), "{'descr': 'f4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<O', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'O8', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'O4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'O2', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'object', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'object_', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'object0', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<object', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'float32', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'd', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i 4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i+4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i3', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'f16', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'c32', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '|S10', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'a5', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<U3', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '|V7', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'S', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'S0', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<M8[ns]', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<m8', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'datetime64[D]', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '?', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'b1', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'e', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '<', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i4,O', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i4, f8', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '2i4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '(2,3)f4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '(2)f4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '(2,)O', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': '>(2,)<f4', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'O,', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i4 ', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'i4,f8 ', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'int', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'str', 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 'p', 'fortran_order': False, 'shape': (1,)}"),
    # descr containers
    ((1, 0), "{'descr': [('x', '<f4'), ('y', '<i2', (3,))], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [('x', '<f4'), ('o', '|O')], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [('', '|V4'), ('x', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [(('t', 'x'), '<f4')], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [('x', [('y', '|O')])], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [('x', '<f4', 3)], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [['x', '<f4']], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': ['xO'], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': {'xO': 1}, 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': {('x', 'O')}, 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': ('<f4', (2,)), 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': ('|O', 2), 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [('x', '<f4'), ('x', '<f4')], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': [(1, '<f4')], 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': 7, 'fortran_order': False, 'shape': (1,)}"),
    ((1, 0), "{'descr': None, 'fortran_order': False, 'shape': (1,)}"),
]


def npy(version, header, body):
    h = header.encode("utf8" if version == (3, 0) else "latin1")
    if version[0] == 1:
        pre = struct.pack("<H", len(h))
    else:
        pre = struct.pack("<I", len(h))
    return b"\x93NUMPY" + bytes(version) + pre + h + body


def probe(version, header):
    try:
        h = header.encode("utf8" if version == (3, 0) else "latin1")
    except UnicodeEncodeError:
        return "unencodable", 0, False
    f = io.BytesIO(npy(version, header, b""))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            v = npformat.read_magic(f)
            npformat._check_version(v)
            shape, fo, dt = npformat._read_array_header(f, v, max_header_size=2**64)
        return "accept", dt.itemsize, dt.hasobject
    except Exception as e:  # noqa: BLE001 - we record every refusal
        return "reject: %s" % type(e).__name__, 0, False


def main():
    w = sys.stdout.write
    w("// numpy %s, Python %s\n" % (np.__version__, sys.version.split()[0]))
    for version, header in CASES:
        res, size, obj = probe(version, header)
        w("{%d, %s, %s, %d, %s}, // %s\n" % (version[0] * 10 + version[1], json.dumps(header), str(res == "accept").lower(),
                                              size, str(obj).lower(), res))


if __name__ == "__main__":
    main()
