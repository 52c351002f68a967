#!/usr/bin/env bash
# Benchmarks `aigis bom` on a ~10 GiB Hugging Face style model directory:
# five 2 GiB safetensors shards (valid headers, sparse data, so the disk
# is not what is measured), an index, config.json and a card.
#
#   scripts/bench-bom.sh          # BENCH_DIR=/tmp/aigis-bom-bench RUNS=3
#
# Reports, as the median of RUNS warm runs:
#   - aigis bom with hashing (SHA-256 of every file, all cores), the bytes
#     it read (rchar from /proc, to show one read per byte) and its
#     throughput;
#   - the same files through sha256sum and openssl dgst -sha256, one file
#     after another (one core), and sha256sum with one process per core;
#   - aigis bom --no-hash (headers, configs and the card only).
set -euo pipefail
cd "$(dirname "$0")/.."
BENCH_DIR=${BENCH_DIR:-/tmp/aigis-bom-bench}
RUNS=${RUNS:-3}
SHARDS=${SHARDS:-5}
SHARD_BYTES=${SHARD_BYTES:-$((2 << 30))}
BIN=$BENCH_DIR/aigis
MODEL=$BENCH_DIR/model

mkdir -p "$BENCH_DIR"
CGO_ENABLED=0 go build -o "$BIN" ./cmd/aigis
if [ ! -f "$MODEL/.generated-$SHARDS-$SHARD_BYTES" ]; then
  rm -rf "$MODEL" && mkdir -p "$MODEL"
  python3 - "$MODEL" "$SHARDS" "$SHARD_BYTES" <<'PY'
import json, os, struct, sys
d, shards, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
weight_map, total = {}, 0
for s in range(1, shards + 1):
    name = "model-%05d-of-%05d.safetensors" % (s, shards)
    n_tensors, hdr = 64, {"__metadata__": {"format": "pt"}}
    # Tensors of F32 that fill the shard, leaving room for the header.
    per = ((size - 65536) // n_tensors) // 4 * 4
    off = 0
    for i in range(n_tensors):
        t = "layers.%d.%d.weight" % (s, i)
        hdr[t] = {"dtype": "F32", "shape": [per // 4], "data_offsets": [off, off + per]}
        weight_map[t] = name
        off += per
        total += per // 4
    h = json.dumps(hdr).encode()
    h += b" " * (-len(h) % 8)
    with open(os.path.join(d, name), "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        f.truncate(8 + len(h) + off)  # sparse data
json.dump({"metadata": {"total_parameters": total, "total_size": total * 4}, "weight_map": weight_map},
          open(os.path.join(d, "model.safetensors.index.json"), "w"))
json.dump({"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 4096, "num_hidden_layers": 32},
          open(os.path.join(d, "config.json"), "w"))
open(os.path.join(d, "README.md"), "w").write("---\nlicense: apache-2.0\ndatasets: [imdb]\n---\n# bench\n")
PY
  touch "$MODEL/.generated-$SHARDS-$SHARD_BYTES"
fi
TOTAL=$(find "$MODEL" -type f ! -name '.generated*' -printf '%s\n' | awk '{s+=$1} END {print s}')
FILES=$(find "$MODEL" -type f ! -name '.generated*' | sort)
cat $FILES > /dev/null # warm the page cache

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
timeit() { # command... -> median seconds over RUNS
  for _ in $(seq "$RUNS"); do
    s=$(now); "$@" > /dev/null; e=$(now)
    echo "$e - $s" | bc -l
  done | median
}
rate() { echo "scale=2; $TOTAL / $1 / 1000000000" | bc -l; }

echo "input: $SHARDS shards, $TOTAL bytes, $(nproc) cores" >&2
t_aigis=$(timeit "$BIN" bom -o cyclonedx-json "$MODEL")
read_bytes=$(bash -c '"$1" bom -o cyclonedx-json "$2" > /dev/null; grep ^rchar /proc/$$/io | cut -d" " -f2' _ "$BIN" "$MODEL")
t_sha=$(timeit sha256sum $FILES)
t_openssl=$(timeit openssl dgst -sha256 $FILES)
t_par=$(timeit bash -c "printf '%s\n' $(echo $FILES) | xargs -P $(nproc) -n 1 sha256sum")
t_nohash=$(timeit "$BIN" bom --no-hash -o cyclonedx-json "$MODEL")

printf '%-42s %8s %10s\n' "run (median of $RUNS)" "seconds" "GB/s"
printf '%-42s %8.3f %10s\n' "aigis bom (SHA-256, all cores)" "$t_aigis" "$(rate "$t_aigis")"
printf '%-42s %8.3f %10s\n' "sha256sum, file after file" "$t_sha" "$(rate "$t_sha")"
printf '%-42s %8.3f %10s\n' "openssl dgst -sha256, file after file" "$t_openssl" "$(rate "$t_openssl")"
printf '%-42s %8.3f %10s\n' "sha256sum, $(nproc) processes" "$t_par" "$(rate "$t_par")"
printf '%-42s %8.3f %10s\n' "aigis bom --no-hash" "$t_nohash" "-"
echo "aigis read $read_bytes bytes for $TOTAL bytes of files ($(echo "scale=4; $read_bytes / $TOTAL" | bc -l)x)"
