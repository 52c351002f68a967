#!/usr/bin/env bash
# Benchmarks `aigis sign` and `aigis verify` against `openssl dgst -sha256`
# (one core with the CPU's SHA extensions, as fast as Python's hashlib that
# model_signing uses one file per thread).
#
#   scripts/bench-sign.sh            # 2 GiB, 5 runs
#   BENCH_SIZE_MIB=4096 RUNS=5 QUIET_WAIT=600 scripts/bench-sign.sh
#
# Cases: one file of BENCH_SIZE_MIB signed with --method shards (default
# 1 GB shards, hashed on every core), and a directory of 10 files of the
# same total size signed with the default files method. Each time is the
# median of RUNS runs with a warm page cache (every input is read once
# before timing); RSS is the peak resident set of the median run, from
# /usr/bin/time -v. Generated data lives under $BENCH_DIR (default
# /tmp/aigis-bench-sign) and is reused between runs; nothing is written
# to the repository.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZE_MIB=${BENCH_SIZE_MIB:-2048}
RUNS=${RUNS:-5}
DIR=${BENCH_DIR:-/tmp/aigis-bench-sign}

if [ ! -x /usr/bin/time ]; then
	apt-get install -y time >/dev/null 2>&1 || { apt-get update >/dev/null && apt-get install -y time >/dev/null; }
fi
command -v openssl >/dev/null || { echo "openssl is needed for the baseline" >&2; exit 2; }

mkdir -p "$DIR/single" "$DIR/dir"
CGO_ENABLED=0 go build -o "$DIR/aigis" ./cmd/aigis
AIGIS="$DIR/aigis"
[ -f "$DIR/key.pem" ] || openssl ecparam -name prime256v1 -genkey -noout -out "$DIR/key.pem"
openssl ec -in "$DIR/key.pem" -pubout -out "$DIR/key.pub" 2>/dev/null

# Random data: nothing compresses or dedups it.
single="$DIR/single/model.bin"
if [ "$(stat -c %s "$single" 2>/dev/null || echo 0)" != "$((SIZE_MIB * 1048576))" ]; then
	head -c "$((SIZE_MIB * 1048576))" /dev/urandom >"$single"
fi
part=$((SIZE_MIB * 1048576 / 10))
files=()
for i in 0 1 2 3 4 5 6 7 8 9; do
	f="$DIR/dir/shard-0000$i.safetensors"
	files+=("$f")
	if [ "$(stat -c %s "$f" 2>/dev/null || echo 0)" != "$part" ]; then
		head -c "$part" /dev/urandom >"$f"
	fi
done
cat "$single" "${files[@]}" >/dev/null # warm the page cache

# Other work on the machine skews the comparison (aigis needs every core,
# openssl one): with QUIET_WAIT=N the script first waits up to N seconds
# for the 1-minute load average to fall below 0.5.
if [ "${QUIET_WAIT:-0}" -gt 0 ]; then
	end=$((SECONDS + QUIET_WAIT))
	while awk '{ exit !($1 >= 0.5) }' /proc/loadavg && [ $SECONDS -lt $end ]; do sleep 5; done
fi

# measure CMD...: prints "seconds rss_kib" of one run.
measure() {
	local tf wall rss
	tf=$(mktemp)
	if ! /usr/bin/time -v -o "$tf" "$@" >/dev/null 2>&1; then
		echo "failed: $*" >&2
		rm -f "$tf"
		exit 1
	fi
	wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tf")
	rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$tf")
	rm -f "$tf"
	awk -v w="$wall" -v r="$rss" 'BEGIN { n = split(w, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f %d\n", s, r }'
}

# median FILE: the median line ("seconds rss_kib") of FILE, by seconds.
median() { sort -n "$1" | awk -v n="$RUNS" 'NR == int((n + 1) / 2)'; }

check() { # the signed model must verify, or the numbers mean nothing
	"$AIGIS" verify --public-key "$DIR/key.pub" "$1" >/dev/null || { echo "verification of $1 failed" >&2; exit 1; }
}

row() { # name openssl sign verify
	read -r os _ <<<"$2"
	read -r ss sr <<<"$3"
	read -r vs vr <<<"$4"
	printf "| %-32s | %7.2f s | %7.2f s | %5.2f× | %7.2f s | %5.2f× | %6.1f MB | %6.1f MB |\n" \
		"$1" "$os" "$ss" "$(awk -v a="$ss" -v b="$os" 'BEGIN{print a/b}')" "$vs" "$(awk -v a="$vs" -v b="$ss" 'BEGIN{print a/b}')" \
		"$(awk -v k="$sr" 'BEGIN{print k/1024}')" "$(awk -v k="$vr" 'BEGIN{print k/1024}')"
}

echo "aigis $("$AIGIS" --version | awk '{print $NF}'), $(nproc) cores, $(openssl version | cut -d' ' -f1-2), ${SIZE_MIB} MiB per case, median of $RUNS warm runs"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| case                             | openssl   | sign      | ÷ssl   | verify    | ÷sign  | sign RSS  | verify RSS |"
echo "|----------------------------------|-----------|-----------|--------|-----------|--------|-----------|------------|"

# bench NAME MODEL SIGN-FLAGS -- OPENSSL-FILES...: runs openssl, sign and
# verify in turn RUNS times (after one warm-up each), so that any noise on
# the machine hits all three alike, and prints the row of medians.
bench() {
	local name=$1 model=$2 flags=()
	shift 2
	while [ "$1" != -- ]; do flags+=("$1"); shift; done
	shift
	local sign=("$AIGIS" sign --no-progress --private-key "$DIR/key.pem" "${flags[@]}" "$model")
	local verify=("$AIGIS" verify --no-progress --public-key "$DIR/key.pub" "$model")
	local ssl=(openssl dgst -sha256 "$@")
	"${sign[@]}" >/dev/null
	check "$model"
	"${ssl[@]}" >/dev/null
	"${verify[@]}" >/dev/null
	local o s v
	o=$(mktemp) s=$(mktemp) v=$(mktemp)
	for _ in $(seq "$RUNS"); do
		measure "${ssl[@]}" >>"$o"
		measure "${sign[@]}" >>"$s"
		measure "${verify[@]}" >>"$v"
	done
	row "$name" "$(median "$o")" "$(median "$s")" "$(median "$v")"
	rm -f "$o" "$s" "$v"
}

bench "1 file, shards (1 GB)" "$single" --method shards -- "$single"
bench "10 files, files method" "$DIR/dir" -- "${files[@]}"
echo
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share these cores)"
