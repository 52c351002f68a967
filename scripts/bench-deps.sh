#!/usr/bin/env bash
# Measures aigis deps against the acceptance figures of issue 6, and
# osv-scanner side by side when OSV_SCANNER names a binary:
#   - importing the shared PyPI export (target < 2 s),
#   - opening the database and scanning one project (target < 200 ms),
#   - peak RSS of each run (target < 200 MB).
# Usage: scripts/bench-deps.sh [RUNS]       (default 5 runs, median reported)
#        OSV_SCANNER=/path/to/osv-scanner scripts/bench-deps.sh
# Needs GNU time (/usr/bin/time; apt-get install time) and ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
SHARED=$(cd .. && pwd)/shared
EXPORT="$SHARED/osv/osv-scanner/PyPI/all.zip"
[ -f "$EXPORT" ] || { echo "missing $EXPORT" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time: apt-get install time" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
CGO_ENABLED=0 go build -o "$WORK/aigis" ./cmd/aigis

# measure LABEL CMD...: runs CMD $RUNS times, prints the median wall time,
# the median CPU time (user+sys: steadier than wall time on a shared
# machine) and the max RSS (MB) of the runs.
measure() {
	local label=$1; shift
	local secs=() cpus=() rss=0
	for _ in $(seq "$RUNS"); do
		/usr/bin/time -f '%e %U %S %M' -o "$WORK/t" "$@" >/dev/null 2>&1 || true
		read -r s u y k < <(tail -1 "$WORK/t")
		secs+=("$s")
		cpus+=("$(echo "$u+$y" | bc -l)")
		[ "$k" -gt "$rss" ] && rss=$k
	done
	printf '%-40s %8ss wall %8ss cpu %8.1f MB\n' "$label" "$(median "${secs[@]}")" "$(median "${cpus[@]}")" "$(echo "$rss/1024" | bc -l)"
}

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }

echo "runs: $RUNS (median wall time, median CPU time, max RSS); load: $(cut -d' ' -f1-3 /proc/loadavg)"
measure "aigis db import (PyPI, $(unzip -l "$EXPORT" | tail -1 | awk '{print $2}') records)" \
	sh -c "rm -f '$WORK/osv.db' && '$WORK/aigis' db import --db '$WORK/osv.db' '$SHARED/osv'"
"$WORK/aigis" db import --db "$WORK/osv.db" "$SHARED/osv" >/dev/null

# osv-scanner 2.x reads <path>/osv-scalibr/<Ecosystem>/all.zip (older
# releases <path>/osv-scanner/...): link the same export under both.
mkdir -p "$WORK/osvdb/osv-scalibr/PyPI" "$WORK/osvdb/osv-scanner/PyPI"
ln -s "$EXPORT" "$WORK/osvdb/osv-scalibr/PyPI/all.zip"
ln -s "$EXPORT" "$WORK/osvdb/osv-scanner/PyPI/all.zip"

for p in "$SHARED"/projects/*/; do
	name=$(basename "$p")
	measure "aigis deps $name" "$WORK/aigis" deps --db "$WORK/osv.db" -o json --fail-on none "$p"
	if [ -n "${OSV_SCANNER:-}" ]; then
		measure "osv-scanner $name" "$OSV_SCANNER" scan source --offline --local-db-path "$WORK/osvdb" -r --format json "$p"
	fi
done
