#!/usr/bin/env bash
# Benchmarks the format analysers and weight forensics ("scan, part 2").
#
#   scripts/bench-formats.sh
#
# 1. Header-only formats: in-process engine scans of sparse 4 GiB
#    safetensors and GGUF files and a 1.9 GiB ONNX file (Go benchmark
#    BenchmarkHeaderOnly in scan/): time per file must stay under 5 ms
#    whatever the size.
# 2. --weights throughput and low-bit payload detection: 100M-parameter
#    float32 (400 MB) and bfloat16 (200 MB) safetensors models written by
#    internal/gen/weightgen into $BENCH_DIR (payloads in the low bits, and
#    EvilModel style in the low bytes), scanned with
#    `aigis scan --weights`: wall time, CPU time, GB/s, verdicts. Clean
#    twins must stay clean; payload models must be flagged, except the
#    random payloads in the low byte of fp32-trained weights, which no
#    statistic can see (docs/formats.md).
# 3. Go micro-benchmark of the forensics loop (MB per CPU-second, which is
#    stable on a busy machine; multiply by the idle cores for wall speed).
#
# Needs: go, /usr/bin/time, python3 (to read the JSON report). About 4 GB
# of disk in $BENCH_DIR. Models already there are kept; new ones are added.
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/aigis-bench-formats}
BIN=$BENCH_DIR/aigis
mkdir -p "$BENCH_DIR"
CGO_ENABLED=0 go build -o "$BIN" ./cmd/aigis

echo "## Header-only scans (per file, engine in-process)"
go test -run XXX -bench HeaderOnly -benchtime 200x ./scan/ | grep Benchmark

echo "generating missing 100M-parameter models in $BENCH_DIR..." >&2
go run ./internal/gen/weightgen -dir "$BENCH_DIR" >/dev/null

echo
echo "## aigis scan --weights on 100M-parameter models (float32: 400 MB, bfloat16: 200 MB)"
printf '| model | verdict | findings | wall s | cpu s | GB/s | peak RSS MB |\n|---|---|---|---|---|---|---|\n'
for f in "$BENCH_DIR"/*.safetensors; do
  cat "$f" >/dev/null # warm the page cache: measure the analysis, not the disk
  out=$(mktemp)
  t=$( { /usr/bin/time -f '%e %U %S %M' "$BIN" scan --weights --fail-on none -o json "$f" >"$out"; } 2>&1 | tail -1)
  read -r wall user sys rss <<<"$t"
  bytes=$(stat -c %s "$f")
  python3 - "$out" "$(basename "$f")" "$wall" "$user" "$sys" "$rss" "$bytes" <<'PY'
import json, sys
out, name, wall, user, sysc, rss, size = sys.argv[1:]
a = json.load(open(out))["artifacts"][0]
rules = sorted({f["rule"] for f in a["findings"]})
print("| %s | %s | %s | %s | %.2f | %.2f | %d |" % (name, a["verdict"], ",".join(rules) or "-", wall,
      float(user) + float(sysc), int(size) / 1e9 / max(float(wall), 1e-3), int(rss) // 1024))
PY
  rm -f "$out"
done

echo
echo "## Forensics loop (float32, 64 MiB in memory)"
go test -run XXX -bench 'ScanF32PerCore' -benchtime 10x ./internal/weights/ | grep Benchmark
nproc
uptime
