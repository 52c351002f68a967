"""Asks Python's json how it reads Keras configurations (analyzer/keras).

Run by hand: /usr/bin/python3 internal/gen/loaderprobe/jsonprobe.py
Keras reads config.json from a .keras archive as bytes and an HDF5
model_config attribute as str, and hands both to json.loads. The tests in
analyzer/keras/keras_test.go (TestKerasConfigAsPythonReadsIt) pin what
this prints.
"""
import json

CASES = [
    ("bytes, UTF-8 BOM", b"\xef\xbb\xbf{\"a\": NaN}"),
    ("bytes, UTF-16 with BOM", "{\"a\": 1}".encode("utf-16")),
    ("bytes, UTF-16-LE without BOM", "{\"a\": 1}".encode("utf-16-le")),
    ("bytes, UTF-32-BE without BOM", "{\"a\": 1}".encode("utf-32-be")),
    ("bytes, invalid UTF-8", b"{\"a\": \"\xff\"}"),
    ("str, BOM", "\ufeff{}"),
    ("str, duplicate keys", "{\"a\": 1, \"a\": 2}"),
    ("str, NaN and Infinity", "[NaN, Infinity, -Infinity]"),
]

for name, doc in CASES:
    try:
        print("%-32s accepts %r" % (name, json.loads(doc)))
    except Exception as e:  # noqa: BLE001
        print("%-32s refuses: %s" % (name, type(e).__name__))
