#!/usr/bin/python3
"""Generates aigis's benign corpus: genuine files written by the real
libraries (Debian's python3-torch, python3-sklearn, python3-numpy,
python3-joblib, python3-scipy, python3-onnx, python3-h5py), each loaded back
with its own library to prove it is genuine. See README.md beside this file.

    /usr/bin/python3 internal/gen/benign/gen.py [OUT] [--sections a,b] [--hashes FILE]

OUT defaults to /work/bench/benign (outside the repository). The manifest
(OUT/manifest.json) lists every file with its sha256, size, kind, a
description, the loader that read it back and loads_ok. --hashes also
writes the compact hash list kept in the repository.
"""

import argparse
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from corpus import Corpus, ensure_hash_seed, library_versions, write_hash_list  # noqa: E402


def main():
    ensure_hash_seed()
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", nargs="?", default="/work/bench/benign")
    ap.add_argument("--sections", default="", help="comma-separated subset (default: all)")
    ap.add_argument("--hashes", default="", help="also write the hash list to this file")
    ap.add_argument("--ship", default="", help="also copy the files subset.txt names, with their manifest, to this directory")
    ap.add_argument("--keep", action="store_true", help="do not empty OUT first")
    ap.add_argument("-v", action="store_true", help="print every file")
    args = ap.parse_args()

    import gen_data
    import gen_sklearn
    import gen_torch

    sections = {}
    for mod in (gen_torch, gen_sklearn, gen_data):
        sections.update(mod.SECTIONS)
    want = [s for s in args.sections.split(",") if s] or list(sections)
    for s in want:
        if s not in sections:
            sys.exit("unknown section %s (have %s)" % (s, ", ".join(sections)))
    if os.path.exists(args.out) and not args.keep:
        if not os.path.exists(os.path.join(args.out, "manifest.json")) and os.listdir(args.out):
            sys.exit("%s exists and is not a corpus made by this script; refusing to empty it" % args.out)
        shutil.rmtree(args.out)
    c = Corpus(args.out, verbose=args.v)
    for s in want:
        n0, k0 = len(c.entries), len(c.skipped)
        sections[s](c)
        print("%-8s %5d files, %3d skipped" % (s, len(c.entries) - n0, len(c.skipped) - k0), file=sys.stderr)
    doc = c.write_manifest(library_versions())
    total = sum(e["size"] for e in doc["files"])
    print("%d files, %.1f MB, %d skipped -> %s" % (len(doc["files"]), total / 1e6, len(doc["skipped"]), args.out), file=sys.stderr)
    if args.hashes:
        write_hash_list(doc, args.hashes, "# Benign corpus made by internal/gen/benign/gen.py (see README.md there).\n")
    if args.ship:
        ship(doc, args.out, args.ship)


def ship(doc, src, dst):
    import json
    want = [l.strip() for l in open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "subset.txt")) if l.strip() and not l.startswith("#")]
    by = {e["path"]: e for e in doc["files"]}
    missing = [p for p in want if p not in by]
    if missing:
        sys.exit("subset.txt names files the corpus lacks: " + ", ".join(missing))
    if os.path.exists(dst):
        shutil.rmtree(dst)
    for p in want:
        os.makedirs(os.path.dirname(os.path.join(dst, p)), exist_ok=True)
        shutil.copyfile(os.path.join(src, p), os.path.join(dst, p))
    with open(os.path.join(dst, "manifest.json"), "w") as f:
        json.dump({"versions": doc["versions"], "files": [by[p] for p in sorted(want)]}, f, indent=1, sort_keys=True)
        f.write("\n")
    total = sum(by[p]["size"] for p in want)
    print("shipped %d files, %d bytes -> %s" % (len(want), total, dst), file=sys.stderr)


if __name__ == "__main__":
    main()
