#!/usr/bin/env bash
# Measures what `aigis scan --weights` finds of EvilModel-style payloads,
# and its false positives on clean trained weights (docs/formats.md,
# weight forensics).
#
#   scripts/bench-evilmodel.sh
#
# 1. Writes $COUNT (72) clean trained-like safetensors models into
#    $CLEAN_DIR, once: small networks trained for a few hundred steps on
#    synthetic data and torchvision/Hugging Face shapes initialised and
#    perturbed, saved as F32, bf16-origin F32, F16 and BF16
#    (internal/gen/trainedweights/trained.py; needs Debian's python3 with
#    torch, used only here, never by the tests or at run time).
# 2. Scans each clean model (internal/gen/evilgen -fp): every finding is a
#    false positive.
# 3. Hides script text, ELF, PE, zip, gzip, a headerless executable body
#    and random bytes of 4 KiB, 64 KiB and 1 MiB in the low 1, 2 or 3 bytes
#    of float32 (both byte orders) and the low byte of float16/bfloat16,
#    at a random element of the largest tensor of $PER models of each
#    dtype, and tabulates which rule found each (evilgen -matrix).
#
# Needs: go, /usr/bin/python3 with torch. About 3 GB of disk in $CLEAN_DIR;
# step 1 takes about an hour of one core, steps 2 and 3 a few minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
CLEAN_DIR=${CLEAN_DIR:-/tmp/aigis-clean-weights}
COUNT=${COUNT:-72}
PER=${PER:-6}
mkdir -p "$CLEAN_DIR"
/usr/bin/python3 internal/gen/trainedweights/trained.py --out "$CLEAN_DIR" --count "$COUNT" >/dev/null

echo "## False positives: clean models"
go run ./internal/gen/evilgen -clean "$CLEAN_DIR" -fp

echo
echo "## Detection: payloads hidden in $PER clean models per dtype"
go run ./internal/gen/evilgen -clean "$CLEAN_DIR" -matrix -per "$PER"
nproc
uptime
