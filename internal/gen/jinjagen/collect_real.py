"""Collects real chat templates into analyzer/internal/jinja/testdata/real/
from local snapshots of public repositories (paths given on the command
line), one file per distinct template, and appends their sources to
SOURCES.tsv there. The templates are data for tests; nothing here runs
at test time.

  python3 internal/gen/jinjagen/collect_real.py e2e <huggingface.js checkout>/packages/jinja/test/e2e.test.js
  python3 internal/gen/jinjagen/collect_real.py dir <repo> <label> <files...>
"""
import hashlib
import json
import os
import re
import sys

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "..", "analyzer", "internal", "jinja", "testdata", "real")


def cook_js(body, quote):
    """Cooks a JavaScript string or template literal body."""
    out = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out.append(c)
            i += 1
            continue
        i += 1
        e = body[i]
        simple = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
        if e in simple:
            out.append(simple[e])
            i += 1
        elif e == "x":
            out.append(chr(int(body[i + 1:i + 3], 16)))
            i += 3
        elif e == "u":
            if body[i + 1] == "{":
                j = body.index("}", i)
                out.append(chr(int(body[i + 2:j], 16)))
                i = j + 1
            else:
                out.append(chr(int(body[i + 1:i + 5], 16)))
                i += 5
        elif e == "\n":
            i += 1
        else:
            out.append(e)
            i += 1
    return "".join(out)


def js_string_expr(src, i):
    """Reads 'a' + "b" + `c` starting at i; returns (value, end)."""
    parts = []
    while True:
        while src[i] in " \t\n":
            i += 1
        q = src[i]
        if q not in "'\"`":
            break
        j = i + 1
        while src[j] != q:
            if src[j] == "\\":
                j += 1
            if q == "`" and src[j] == "$" and src[j + 1] == "{":
                raise ValueError("template substitution")
            j += 1
        parts.append(cook_js(src[i + 1:j], q))
        i = j + 1
        while src[i] in " \t\n":
            i += 1
        if src[i] != "+":
            break
        i += 1
    return "".join(parts), i


def slug(s):
    return re.sub(r"[^A-Za-z0-9._-]+", "-", s).strip("-")[:80]


def save(name, text, source):
    digest = hashlib.sha256(text.encode()).hexdigest()
    for f in os.listdir(OUT):
        if f.endswith(".jinja") and hashlib.sha256(open(os.path.join(OUT, f), encoding="utf-8").read().encode()).hexdigest() == digest:
            return
    path = os.path.join(OUT, slug(name) + ".jinja")
    n = 2
    while os.path.exists(path):
        path = os.path.join(OUT, "%s-%d.jinja" % (slug(name), n))
        n += 1
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    with open(os.path.join(OUT, "SOURCES.tsv"), "a", encoding="utf-8") as f:
        f.write("%s\t%s\n" % (os.path.basename(path), source))


def e2e(path, commit):
    src = open(path, encoding="utf-8").read()
    start = src.index("const TEST_CUSTOM_TEMPLATES")
    end = src.index("const TEST_CUSTOM_FORMATTING")
    block = src[start:end]
    for m in re.finditer(r'\n\t"([^"]+)": \{\n\t\tchat_template:', block):
        name = m.group(1)
        value, _ = js_string_expr(block, m.end())
        base = name.split(" (")[0]
        save(base, value, "huggingface/huggingface.js@%s packages/jinja/test/e2e.test.js (%s, as published on the Hub)" % (commit, name))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    if sys.argv[1] == "e2e":
        e2e(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "dir":
        repo, label = sys.argv[2], sys.argv[3]
        for f in sys.argv[4:]:
            text = open(f, encoding="utf-8").read()
            save(label + "-" + os.path.splitext(os.path.basename(f))[0], text, "%s %s" % (label, os.path.basename(f)))
    elif sys.argv[1] == "json":
        # a tokenizer_config.json: its chat_template (string or list)
        label, f = sys.argv[2], sys.argv[3]
        v = json.load(open(f, encoding="utf-8"))["chat_template"]
        if isinstance(v, str):
            v = [{"name": "default", "template": v}]
        for t in v:
            save(label + "-" + t["name"], t["template"], "%s %s chat_template[%s]" % (label, os.path.basename(f), t["name"]))
