#!/usr/bin/env bash
# Benchmarks `aigis scan` on large, realistic inputs, side by side with
# peer scanners when they are installed. Figures: median wall time of 5
# warm runs (hyperfine) and peak RSS (/usr/bin/time).
#
#   scripts/bench-scan.sh                 # aigis only
#   PICKLESCAN="python3 -m picklescan" scripts/bench-scan.sh
#   MODELSCAN="modelscan" scripts/bench-scan.sh
#
# Inputs (generated once by internal/gen/benchgen into $BENCH_DIR):
#   big.pt          2 GiB torch zip checkpoint, 512 tensors
#   big_legacy.pt   1 GiB legacy torch checkpoint
#   opcodes.pkl     150 MB protocol-4 pickle of big lists and dicts
#   small/          1,000 small torch checkpoints
# Needs: go, hyperfine, /usr/bin/time (Debian packages hyperfine, time).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/aigis-bench}
RUNS=${RUNS:-5}
BIN=$BENCH_DIR/aigis

command -v hyperfine >/dev/null || { echo "hyperfine is required (apt-get install hyperfine)"; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time is required (apt-get install time)"; exit 2; }

mkdir -p "$BENCH_DIR"
CGO_ENABLED=0 go build -o "$BIN" ./cmd/aigis
if [ ! -f "$BENCH_DIR/.generated" ]; then
  echo "generating inputs in $BENCH_DIR (about 3.3 GB)..." >&2
  go run ./internal/gen/benchgen -dir "$BENCH_DIR"
  touch "$BENCH_DIR/.generated"
fi

inputs=(big.pt big_legacy.pt opcodes.pkl small)
declare -A tools=([aigis]="$BIN scan --fail-on none -o json")
[ -n "${PICKLESCAN:-}" ] && tools[picklescan]="$PICKLESCAN -p"
[ -n "${MODELSCAN:-}" ] && tools[modelscan]="$MODELSCAN -p"

median() { # hyperfine json -> median seconds
  python3 -c 'import json,sys; print("%.3f" % json.load(open(sys.argv[1]))["results"][0]["median"])' "$1" 2>/dev/null ||
    grep -o '"median": *[0-9.e-]*' "$1" | head -1 | sed 's/.*: *//'
}

printf '| input | size | tool | median s | peak RSS MB | MB/s |\n|---|---|---|---|---|---|\n'
for in in "${inputs[@]}"; do
  path=$BENCH_DIR/$in
  bytes=$(du -sb "$path" | cut -f1)
  for t in $(printf '%s\n' "${!tools[@]}" | sort); do
    cmd="${tools[$t]} $path"
    json=$(mktemp)
    # Peers exit non-zero on findings; that is not a failure here.
    hyperfine -N --warmup 1 --runs "$RUNS" -i --export-json "$json" "$cmd" >/dev/null 2>&1 || true
    med=$(median "$json")
    rss=$( { /usr/bin/time -f '%M' sh -c "$cmd >/dev/null 2>&1" ; } 2>&1 | tail -1)
    mbs=$(python3 -c "print('%.0f' % ($bytes/1e6/$med))" 2>/dev/null || echo -)
    printf '| %s | %s MB | %s | %s | %s | %s |\n' "$in" "$((bytes / 1000000))" "$t" "$med" "$((rss / 1024))" "$mbs"
    rm -f "$json"
  done
done
