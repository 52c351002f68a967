#!/usr/bin/env bash
# Benchmarks aigis monitor proxy on loopback: the latency it adds at a
# fixed request rate, and its memory over a million requests.
#
#   scripts/bench-monitor.sh                      # 2,000 rps, 3 x 20 s each way; 1M requests for memory
#   RATE=2000 SECONDS_EACH=30 ROUNDS=3 MEM_REQUESTS=1000000 MEM_RATE=5000 scripts/bench-monitor.sh
#
# The upstream is a fixture (internal/gen/monitorbench upstream): an Open
# Inference Protocol classifier of 64 inputs that answers at once, so the
# measured difference is the proxy's own. The load generator is open
# loop: requests leave at fixed times and each latency counts from its
# scheduled start. Overhead = a quantile through the proxy minus the same
# quantile straight to the upstream, rounds alternating between the two;
# the proxy runs every detector (baseline learnt from its first 300
# requests) with metrics on. Memory is the proxy's resident set, read from
# /proc every 5 s while MEM_REQUESTS requests pass through it. Everything
# listens on 127.0.0.1 and stops by itself; nothing is written to the
# repository (work files under $BENCH_DIR, default /tmp/aigis-bench-monitor).
set -euo pipefail
cd "$(dirname "$0")/.."

RATE=${RATE:-2000}
SECONDS_EACH=${SECONDS_EACH:-20}
ROUNDS=${ROUNDS:-3}
MEM_REQUESTS=${MEM_REQUESTS:-1000000}
MEM_RATE=${MEM_RATE:-5000}
DIR=${BENCH_DIR:-/tmp/aigis-bench-monitor}
# NICE=-10 runs the upstream, the proxy and the load at a higher priority
# than other work on a shared machine (root only).
NICE=${NICE:-0}
UP=127.0.0.1:18081
PX=127.0.0.1:18080
METRICS=127.0.0.1:19464
URL=/v2/models/digits/infer

mkdir -p "$DIR"
CGO_ENABLED=0 go build -o "$DIR/aigis" ./cmd/aigis
go build -o "$DIR/monitorbench" ./internal/gen/monitorbench

# Other work on the machine skews latency: with QUIET_WAIT=N the script
# first waits up to N seconds for the 1-minute load average to fall below
# 1, and it prints the load average with the results.
if [ "${QUIET_WAIT:-0}" -gt 0 ]; then
	end=$((SECONDS + QUIET_WAIT))
	while awk '{ exit !($1 >= 1) }' /proc/loadavg && [ $SECONDS -lt $end ]; do sleep 5; done
fi
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

nice -n "$NICE" "$DIR/monitorbench" upstream -addr "$UP" >"$DIR/upstream.log" 2>&1 &
pids+=($!)
nice -n "$NICE" "$DIR/aigis" monitor proxy --upstream "http://$UP" --listen "$PX" --metrics-addr "$METRICS" --learn 300 -q 2>"$DIR/proxy.log" &
PROXY=$!
pids+=($PROXY)
for _ in $(seq 1 100); do
	curl -s -o /dev/null "http://$METRICS/metrics" && break
	sleep 0.1
done

load() { nice -n "$NICE" "$DIR/monitorbench" load -url "http://$1$URL" -rate "$2" -duration "$3"s "${@:4}"; }

echo "warm-up" >&2
load "$UP" "$RATE" 5 >/dev/null
load "$PX" "$RATE" 5 >/dev/null

: >"$DIR/latency.jsonl"
for r in $(seq 1 "$ROUNDS"); do
	echo "round $r: direct, then through the proxy, ${SECONDS_EACH}s each at $RATE rps" >&2
	load "$UP" "$RATE" "$SECONDS_EACH" | sed 's/^{/{"via":"direct","round":'"$r"',/' >>"$DIR/latency.jsonl"
	load "$PX" "$RATE" "$SECONDS_EACH" | sed 's/^{/{"via":"proxy","round":'"$r"',/' >>"$DIR/latency.jsonl"
done

# The proxy's own time per request, from its histogram (warm-up and
# rounds: every request it proxied so far).
curl -s "http://$METRICS/metrics" | grep '^aigis_monitor_proxy_overhead_seconds' >"$DIR/own.txt" || true

# CPU time of the proxy process, in clock ticks (utime + stime).
cputicks() { awk '{print $14 + $15}' "/proc/$PROXY/stat"; }

echo "memory: $MEM_REQUESTS requests at $MEM_RATE rps through the proxy" >&2
CPU0=$(cputicks)
: >"$DIR/rss.tsv"
(
	start=$(date +%s)
	while kill -0 "$PROXY" 2>/dev/null; do
		printf '%s\t%s\n' "$(($(date +%s) - start))" "$(awk '/VmRSS/ {print $2}' /proc/$PROXY/status)" >>"$DIR/rss.tsv"
		sleep 5
	done
) &
SAMPLER=$!
pids+=($SAMPLER)
nice -n "$NICE" "$DIR/monitorbench" load -url "http://$PX$URL" -rate "$MEM_RATE" -n "$MEM_REQUESTS" -latencies=false >"$DIR/memory-load.json"
sleep 5
CPU1=$(cputicks)
echo "$CPU0 $CPU1 $(getconf CLK_TCK) $MEM_REQUESTS" >"$DIR/cpu.txt"
kill "$SAMPLER" 2>/dev/null || true
curl -s "http://$METRICS/metrics" | grep -E '^aigis_monitor_records_total|^aigis_monitor_alerts_total\{[^}]*\} [1-9]|^go_memstats_heap_inuse_bytes|^process_resident_memory_bytes' >"$DIR/metrics.txt" || true

echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
python3 - "$DIR" <<'PY'
import json, sys, statistics
d = sys.argv[1]
rows = [json.loads(l) for l in open(f"{d}/latency.jsonl")]
def med(via, k):
    return statistics.median(r[k] for r in rows if r["via"] == via)
print(f"latency at {rows[0]['rate']:.0f} rps on loopback, median of {len(rows)//2} rounds (ms):")
print(f"{'':10}{'p50':>8}{'p90':>8}{'p99':>8}{'p99.9':>8}{'errors':>8}")
for via in ("direct", "proxy"):
    errs = sum(r["errors"] for r in rows if r["via"] == via)
    print(f"{via:10}" + "".join(f"{med(via, k):8.3f}" for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms")) + f"{errs:8d}")
print("overhead  " + "".join(f"{med('proxy', k) - med('direct', k):8.3f}" for k in ("p50_ms", "p90_ms", "p99_ms", "p999_ms")))
own = {}
for l in open(f"{d}/own.txt"):
    if "_bucket{" in l:
        le = l.split('le="')[1].split('"')[0]
        own[float("inf") if le == "+Inf" else float(le)] = float(l.split()[-1])
if own:
    total = own[float("inf")]
    def q(p):
        for le in sorted(own):
            if own[le] >= p * total:
                return le
    fmt = lambda v: "over 100 ms" if v == float("inf") else f"<= {v*1000:g} ms"
    print(f"proxy's own time per request (aigis_monitor_proxy_overhead_seconds, {total:,.0f} requests): "
          f"p50 {fmt(q(.5))}, p99 {fmt(q(.99))}, p99.9 {fmt(q(.999))}")
m = json.load(open(f"{d}/memory-load.json"))
rss = [(int(a), int(b)) for a, b in (l.split() for l in open(f"{d}/rss.tsv") if len(l.split()) == 2)]
print(f"\nmemory over {m['sent']:,} requests at {m['achieved_rps']:.0f} rps ({m['errors']} errors, p99 {m['p99_ms']:.2f} ms):")
if rss:
    n = len(rss)
    pick = sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})
    print("  " + ", ".join(f"{rss[i][0]}s: {rss[i][1]/1024:.1f} MiB" for i in pick))
    print(f"  resident set: first {rss[0][1]/1024:.1f} MiB, max {max(r for _, r in rss)/1024:.1f} MiB, last {rss[-1][1]/1024:.1f} MiB")
c0, c1, tck, n = (float(x) for x in open(f"{d}/cpu.txt").read().split())
print(f"  proxy CPU time: {(c1 - c0) / tck:.1f} s for {n:,.0f} requests = {(c1 - c0) / tck / n * 1e6:.0f} microseconds per request (parsing and every detector included)")
print(open(f"{d}/metrics.txt").read())
PY
