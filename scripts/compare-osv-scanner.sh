#!/usr/bin/env bash
# Compares the advisories aigis deps reports on every project in
# ../shared/projects with osv-scanner's offline results on the same
# database. Prints, per project and package, the advisory ids only one of
# the two reports. OSV_SCANNER must name an osv-scanner binary.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${OSV_SCANNER:?set OSV_SCANNER to an osv-scanner binary}"
SHARED=$(cd .. && pwd)/shared
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CGO_ENABLED=0 go build -o "$WORK/aigis" ./cmd/aigis
"$WORK/aigis" db import --db "$WORK/osv.db" "$SHARED/osv" >/dev/null
mkdir -p "$WORK/osvdb/osv-scalibr/PyPI" "$WORK/osvdb/osv-scanner/PyPI"
ln -s "$SHARED/osv/osv-scanner/PyPI/all.zip" "$WORK/osvdb/osv-scalibr/PyPI/all.zip"
ln -s "$SHARED/osv/osv-scanner/PyPI/all.zip" "$WORK/osvdb/osv-scanner/PyPI/all.zip"
for p in "$SHARED"/projects/*/; do
	name=$(basename "$p")
	"$WORK/aigis" deps --db "$WORK/osv.db" -o json --fail-on none "$p" > "$WORK/$name.aigis.json"
	"$OSV_SCANNER" scan source --offline --local-db-path "$WORK/osvdb" -r --format json "$p" > "$WORK/$name.osv.json" 2>"$WORK/$name.osv.err" || true
	python3 - "$name" "$WORK/$name.aigis.json" "$WORK/$name.osv.json" "$WORK/$name.osv.err" <<'PY'
import json, os, re, sys
name, aj, oj, oerr = sys.argv[1:]
a = json.load(open(aj))
# aigis: findings whose rule is an advisory id; the group's ids are the
# rule plus the aliases named in the message.
mine = {}
for art in a["artifacts"]:
    src = os.path.basename(art["path"])
    for f in art["findings"]:
        r = f["rule"]
        if r.startswith("deps-"):
            continue
        m = re.match(r"(\S+) (\S+): ", f["message"])
        ids = {r} | set(re.findall(r"\b(?:PYSEC|GHSA|CVE|MAL)-[\w-]+", (re.search(r"\(aliases ([^)]*)\)", f["message"]) or [None, ""])[1]))
        mine.setdefault((src, m.group(1).lower(), m.group(2)), set()).update(ids)
theirs = {}
try:
    o = json.load(open(oj))
except Exception:
    o = {"results": []}
    print(f"{name}: osv-scanner produced no results ({open(oerr).read().strip().splitlines()[-1] if open(oerr).read().strip() else 'no output'})")
for res in o.get("results", []):
    src = os.path.basename(res["source"]["path"])
    for pk in res["packages"]:
        ids = set()
        for v in pk.get("vulnerabilities", []):
            ids.add(v["id"]); ids.update(v.get("aliases", []))
        if ids:
            theirs[(src, pk["package"]["name"].lower(), pk["package"]["version"])] = ids
print(f"== {name}: aigis {len(mine)} vulnerable package entries, osv-scanner {len(theirs)}")
for k in sorted(set(mine) | set(theirs)):
    A, O = mine.get(k, set()), theirs.get(k, set())
    recA = {i for i in A if i.startswith(("PYSEC-", "MAL-"))}
    recO = {i for i in O if i.startswith(("PYSEC-", "MAL-"))}
    if recA != recO:
        print(f"  {k[0]} {k[1]} {k[2]}: only aigis {sorted(recA - recO)} only osv-scanner {sorted(recO - recA)}")
    else:
        print(f"  {k[0]} {k[1]} {k[2]}: same {len(recA)} records")
PY
done
