#!/usr/bin/env bash
# Crash test: KILLS times, start `aigis registry serve`, start PUSHES
# pushes of random models (1 to MAX_MIB MiB) and kill -9 the server at a
# random moment while they run. Then restart it once more and check:
#   - aigis registry fsck: the metadata and the blob store agree;
#   - every version the registry lists pulls whole (regbench check: every
#     digest re-verified), so no partial version is visible;
#   - aigis registry audit verify: the audit chain is intact.
#
#   scripts/crash-registry.sh                 # 100 kills
#   KILLS=20 scripts/crash-registry.sh
#
# Everything runs on 127.0.0.1 under $CRASH_DIR (default /tmp/aigis-crash-
# registry); nothing is written to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

KILLS=${KILLS:-100}
PUSHES=${PUSHES:-3}
MAX_MIB=${MAX_MIB:-24}
DIR=${CRASH_DIR:-/tmp/aigis-crash-registry}
PORT=${PORT:-5111}
URL="http://127.0.0.1:$PORT"

mkdir -p "$DIR"
CGO_ENABLED=0 go build -o "$DIR/aigis" ./cmd/aigis
go build -o "$DIR/regbench" ./internal/gen/regbench
rm -rf "$DIR/data"

server=""
start() {
	"$DIR/aigis" -q registry serve --data "$DIR/data" --listen "127.0.0.1:$PORT" --gate crash=none >>"$DIR/serve.out" 2>>"$DIR/serve.err" &
	server=$!
	for _ in $(seq 1 400); do
		curl -s -o /dev/null "$URL/healthz" && return 0
		sleep 0.025
	done
	echo "the server did not start" >&2
	tail "$DIR/serve.err" >&2
	exit 1
}
trap '[ -n "$server" ] && kill -9 $server 2>/dev/null; true' EXIT

: >"$DIR/serve.out"
start
TOKEN=$(grep -o -m1 'aigis_[A-Za-z0-9_-]*' "$DIR/serve.out")
completed=0
killed_mid=0
for i in $(seq 1 "$KILLS"); do
	[ "$i" = 1 ] || start
	jobs=()
	for k in $(seq 1 "$PUSHES"); do
		size=$(( (RANDOM % MAX_MIB + 1) * 1048576 ))
		"$DIR/regbench" push -url "$URL" -token "$TOKEN" -repo crash/model -tag "k$i-$k" -size "$size" >/dev/null 2>&1 &
		jobs+=($!)
	done
	ms=$((RANDOM % 1500 + 50))
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
	kill -9 "$server"
	wait "$server" 2>/dev/null || true
	for j in "${jobs[@]}"; do
		if wait "$j" 2>/dev/null; then completed=$((completed + 1)); else killed_mid=$((killed_mid + 1)); fi
	done
	server=""
done

start
echo "$KILLS kills with $PUSHES pushes each: $completed pushes completed before the kill, $killed_mid were cut"
set +e
"$DIR/regbench" check -url "$URL" -token "$TOKEN"
check=$?
kill "$server"; wait "$server" 2>/dev/null; server=""
"$DIR/aigis" registry fsck --data "$DIR/data"
fsck=$?
"$DIR/aigis" registry audit verify --data "$DIR/data"
audit=$?
set -e
if [ $check -eq 0 ] && [ $fsck -eq 0 ] && [ $audit -eq 0 ]; then
	echo "crash test passed: fsck clean, no partial version visible, audit chain intact"
else
	echo "crash test FAILED (check $check, fsck $fsck, audit $audit)"
	exit 1
fi
