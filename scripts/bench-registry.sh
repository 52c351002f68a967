#!/usr/bin/env bash
# Load on loopback: `aigis registry serve` against distribution v3.1.2
# (the reference registry) on the same machine, with the same client
# (internal/gen/regbench).
#
#   scripts/bench-registry.sh
#   SIZE_MIB=1024 CLIENTS=50 RATE=500 DURATION=20s scripts/bench-registry.sh
#
# 1. Throughput: CLIENTS concurrent clients each pull one approved blob of
#    SIZE_MIB (random bytes) once; aggregate MiB/s over the whole run. aigis
#    re-hashes every byte it serves (integrity on read) and checks a bearer
#    token; distribution runs without auth, its fastest setup.
# 2. Manifest latency: GET of the model's manifest by tag at RATE requests
#    per second, open loop, for DURATION; p50/p99/max from when each request
#    was due, and errors. aigis also audits every one of these pulls.
#
# Both servers keep their data under $BENCH_DIR (default /tmp/aigis-bench-
# registry), on 127.0.0.1 only. distribution is installed with `go install`
# when absent. Nothing is written to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${SIZE_MIB:-1024}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-1}
RATE=${RATE:-500}
DURATION=${DURATION:-20s}
DIR=${BENCH_DIR:-/tmp/aigis-bench-registry}
AIGIS_PORT=${AIGIS_PORT:-5101}
DIST_PORT=${DIST_PORT:-5102}
GOBIN=${GOBIN:-/tmp/gobin}
# On a shared machine, PRIO=-10 runs both servers and the client at a
# higher priority than the rest, the same for both (needs root), and RT=1
# runs the manifest phase (light: a fraction of a core) under the FIFO
# real-time scheduler, server and client alike, so that latency is the
# servers' and not the neighbours' (needs root; the priority is restored
# after the phase).
PRIO=${PRIO:-0}
RT=${RT:-0}
run() { nice -n "$PRIO" "$@"; }
serve() { exec nice -n "$PRIO" "$@"; } # in the background: $! is the server

mkdir -p "$DIR"
CGO_ENABLED=0 go build -o "$DIR/aigis" ./cmd/aigis
go build -o "$DIR/regbench" ./internal/gen/regbench
DIST="$GOBIN/registry"
if [ ! -x "$DIST" ]; then
	GOBIN="$GOBIN" go install github.com/distribution/distribution/v3/cmd/registry@v3.1.2
fi

model="$DIR/model.bin"
if [ "$(stat -c %s "$model" 2>/dev/null || echo 0)" != "$((SIZE_MIB * 1048576))" ]; then
	head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$model"
fi

pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_http() {
	for _ in $(seq 1 200); do
		curl -s -o /dev/null "$1" && return 0
		sleep 0.05
	done
	echo "no server at $1" >&2
	exit 1
}

# aigis, fresh data, the bench namespace approved on push (no gates: the
# gates are not what this measures).
rm -rf "$DIR/aigis-data" "$DIR/dist-data"
serve "$DIR/aigis" -q registry serve --data "$DIR/aigis-data" --listen "127.0.0.1:$AIGIS_PORT" --gate bench=none >"$DIR/aigis.out" 2>"$DIR/aigis.err" &
pids+=($!)
wait_http "http://127.0.0.1:$AIGIS_PORT/healthz"
TOKEN=$(grep -o -m1 'aigis_[A-Za-z0-9_-]*' "$DIR/aigis.out")

cat >"$DIR/dist.yml" <<YML
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $DIR/dist-data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$DIST_PORT
YML
serve "$DIST" serve "$DIR/dist.yml" >"$DIR/dist.log" 2>&1 &
pids+=($!)
wait_http "http://127.0.0.1:$DIST_PORT/v2/"

read -r AMAN ADIG < <("$DIR/regbench" push -url "http://127.0.0.1:$AIGIS_PORT" -token "$TOKEN" -repo bench/model -tag v1 -file "$model")
read -r DMAN DDIG < <("$DIR/regbench" push -url "http://127.0.0.1:$DIST_PORT" -repo bench/model -tag v1 -file "$model")
[ "$ADIG" = "$DDIG" ] || { echo "the two pushes disagree" >&2; exit 1; }

echo "blob $ADIG ($SIZE_MIB MiB), $CLIENTS clients x $ROUNDS pulls; manifest at $RATE/s for $DURATION"
echo "machine: $(nproc) cores, $(go version | cut -d' ' -f3), load average $(cut -d' ' -f1-3 /proc/loadavg), priority $PRIO"
# Warm the page cache and the connections once.
"$DIR/regbench" pull -url "http://127.0.0.1:$AIGIS_PORT" -token "$TOKEN" -digest "$ADIG" -clients 1 >/dev/null
"$DIR/regbench" pull -url "http://127.0.0.1:$DIST_PORT" -digest "$DDIG" -clients 1 >/dev/null

AIGIS_PID=${pids[0]}
DIST_PID=${pids[1]}
for name in distribution aigis; do
	if [ $name = aigis ]; then url="http://127.0.0.1:$AIGIS_PORT"; tok=$TOKEN; pid=$AIGIS_PID; else url="http://127.0.0.1:$DIST_PORT"; tok=""; pid=$DIST_PID; fi
	echo "== $name"
	if [ "${SKIP_PULL:-0}" = 1 ] && [ -f "$DIR/$name.pull.json" ]; then
		echo "pull:     (skipped, last result) $(cat "$DIR/$name.pull.json")"
	else
		echo -n "pull:     "; run "$DIR/regbench" pull -url "$url" -token "$tok" -digest "$ADIG" -clients "$CLIENTS" -rounds "$ROUNDS" | tee "$DIR/$name.pull.json"
	fi
	if [ "$RT" = 1 ]; then
		chrt -a -f -p 10 "$pid" >/dev/null
		echo -n "manifest: "; chrt -f 10 "$DIR/regbench" manifest -url "$url" -token "$tok" -ref v1 -rate "$RATE" -duration "$DURATION" | tee "$DIR/$name.manifest.json"
		chrt -a -o -p 0 "$pid" >/dev/null
	else
		echo -n "manifest: "; run "$DIR/regbench" manifest -url "$url" -token "$tok" -ref v1 -rate "$RATE" -duration "$DURATION" | tee "$DIR/$name.manifest.json"
	fi
done

python3 - "$DIR" <<'PY'
import json, sys
d = sys.argv[1]
a = json.load(open(d + "/aigis.pull.json")); b = json.load(open(d + "/distribution.pull.json"))
am = json.load(open(d + "/aigis.manifest.json")); bm = json.load(open(d + "/distribution.manifest.json"))
print()
print("| | distribution v3.1.2 | aigis | aigis / distribution |")
print("|---|---|---|---|")
print("| %d-client pull, MiB/s | %.0f | %.0f | %.0f%% |" % (a["clients"], b["mib_per_s"], a["mib_per_s"], 100 * a["mib_per_s"] / b["mib_per_s"]))
print("| pull errors | %d | %d | |" % (b["errors"], a["errors"]))
for k in ("p50_ms", "p99_ms", "max_ms"):
    print("| manifest %s at %.0f/s | %.2f | %.2f | |" % (k.replace("_ms", ""), am["achieved_rps"], bm[k], am[k]))
print("| manifest errors | %d | %d | |" % (bm["errors"], am["errors"]))
ok = a["mib_per_s"] >= 0.8 * b["mib_per_s"] and am["p99_ms"] < 20 and am["errors"] == 0 and a["errors"] == 0
print("\ntargets (pull >= 80%% of distribution, manifest p99 < 20 ms, no errors): %s" % ("met" if ok else "NOT met"))
PY
