#!/usr/bin/python3
"""Measures aigis and picklescan on a corpus made by gen.py (attacks) or
internal/gen/benign/gen.py, and writes a per-file result table.

    /usr/bin/python3 internal/gen/attacks/measure.py CORPUS --aigis BIN [--picklescan SRC] [-o results.tsv]

aigis runs as `BIN scan -o json --allow-incomplete CORPUS`; picklescan (a
checkout's src directory) as `python3 -m picklescan -p FILE` per file. A
picklescan result is "dangerous" when it reports a dangerous global,
"suspicious" when only unknown globals, "error" when it could not parse
the file and found nothing, else "clean".
"""

import argparse
import collections
import json
import os
import re
import subprocess
import sys


def aigis(binary, corpus):
    p = subprocess.run([binary, "scan", "-o", "json", "--allow-incomplete", corpus], capture_output=True)
    rep = json.loads(p.stdout)
    out = {}
    for a in rep["artifacts"]:
        rel = os.path.relpath(a["path"], corpus)
        rules = sorted({f["rule"] for f in a.get("findings", []) if f["severity"] != "info"})
        out[rel] = (a["verdict"], rules)
    return out


def picklescan(src, path):
    env = dict(os.environ, PYTHONPATH=src)
    p = subprocess.run([sys.executable, "-m", "picklescan", "-p", path], capture_output=True, env=env, timeout=300)
    text = p.stdout.decode("utf-8", "replace") + p.stderr.decode("utf-8", "replace")
    m = re.search(r"Dangerous globals: (\d+)", text)
    dangerous = int(m.group(1)) if m else 0
    m = re.search(r"Suspicious globals: (\d+)", text)
    suspicious = int(m.group(1)) if m else 0
    infected = re.search(r"Infected files: (\d+)", text)
    if dangerous or (infected and int(infected.group(1))):
        return "dangerous"
    if suspicious:
        return "suspicious"
    if "ERROR" in text or p.returncode not in (0, 1):
        return "error"
    return "clean"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus")
    ap.add_argument("--aigis", required=True)
    ap.add_argument("--picklescan", default="")
    ap.add_argument("-o", default="")
    args = ap.parse_args()
    man = json.load(open(os.path.join(args.corpus, "manifest.json")))
    files = man["files"]
    ai = aigis(args.aigis, args.corpus)
    rows = []
    for f in files:
        v, rules = ai.get(f["path"], ("missing", []))
        ps = picklescan(args.picklescan, os.path.join(args.corpus, f["path"])) if args.picklescan else ""
        rows.append((f, v, rules, ps))
    cnt = collections.Counter(v for _, v, _, _ in rows)
    pcnt = collections.Counter(p for _, _, _, p in rows)
    print("aigis:", dict(cnt), file=sys.stderr)
    if args.picklescan:
        print("picklescan:", dict(pcnt), file=sys.stderr)
    if args.o:
        with open(args.o, "w") as w:
            w.write("# Made by internal/gen/attacks/measure.py on %s (%d files).\n" % (os.path.basename(os.path.normpath(args.corpus)), len(rows)))
            w.write("# aigis: %s\n" % ", ".join("%s %d" % kv for kv in sorted(cnt.items())))
            if args.picklescan:
                w.write("# picklescan: %s\n" % ", ".join("%s %d" % kv for kv in sorted(pcnt.items())))
            w.write("# path\tsha256\tloader\tproof\taigis verdict\taigis rules\tpicklescan\treference\ttechnique\n")
            for f, v, rules, ps in sorted(rows, key=lambda r: r[0]["path"]):
                w.write("\t".join([f["path"], f["sha256"], f["loader"], ",".join(f.get("proof", [])) or "-", v, ",".join(rules) or "-", ps or "-",
                                    f.get("ref", "-"), f.get("technique", f.get("what", ""))]) + "\n")


if __name__ == "__main__":
    main()
