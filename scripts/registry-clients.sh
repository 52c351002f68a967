#!/usr/bin/env bash
# Real clients against `aigis registry serve`: the oras CLI logs in through
# the token flow, pushes a ModelPack artifact (artifact type, config and
# layer media types, file path annotations), is refused the pull while the
# version is pending (DENIED, with the reason), and round-trips it once
# approved. Needs oras (ORAS=/path/to/oras, default: oras on PATH, else
# /tmp/gobin/oras, else `go install oras.land/oras/cmd/oras@v1.3.6`).
# Everything runs on 127.0.0.1 under $CLIENTS_DIR.
set -euo pipefail
cd "$(dirname "$0")/.."

DIR=${CLIENTS_DIR:-/tmp/aigis-registry-clients}
PORT=${PORT:-5121}
HOST=127.0.0.1:$PORT
ORAS=${ORAS:-$(command -v oras || echo /tmp/gobin/oras)}
if [ ! -x "$ORAS" ]; then
	GOBIN=/tmp/gobin go install oras.land/oras/cmd/oras@v1.3.6
	ORAS=/tmp/gobin/oras
fi
rm -rf "$DIR" && mkdir -p "$DIR/model" "$DIR/out" "$DIR/oras-config"
CGO_ENABLED=0 go build -o "$DIR/aigis" ./cmd/aigis
export DOCKER_CONFIG="$DIR/oras-config"

# The ci namespace approves on push (no gates); the models namespace runs
# the gates with the default configuration (no trusted signer), so an
# unsigned push is rejected and the pull says why.
# The signed namespace trusts one signer (a key made here).
"$DIR/aigis" keygen --no-password --output-key-prefix "$DIR/signer" >/dev/null
"$DIR/aigis" keygen --no-password --output-key-prefix "$DIR/approver" >/dev/null
{ echo "trust:"; echo "  public_keys:"; echo "    - |"; sed 's/^/      /' "$DIR/signer.pub"; } >"$DIR/signed.yaml"
"$DIR/aigis" -q registry serve --data "$DIR/data" --listen "$HOST" --gate ci=none --gate-config signed="$DIR/signed.yaml" >"$DIR/serve.out" 2>"$DIR/serve.err" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; true' EXIT
for _ in $(seq 1 200); do curl -s -o /dev/null "http://$HOST/healthz" && break; sleep 0.05; done
TOKEN=$(grep -o -m1 'aigis_[A-Za-z0-9_-]*' "$DIR/serve.out")
export AIGIS_REGISTRY=http://$HOST AIGIS_TOKEN=$TOKEN

fail() { echo "FAIL: $*" >&2; exit 1; }
printf '%s' "weights" >"$DIR/model/model.safetensors"
printf '{"architectures":["Bert"]}' >"$DIR/model/config.json"
printf '{"descriptor":{"name":"bert","version":"1.0"},"config":{"format":"safetensors"},"modelfs":{"type":"layers","diffIds":[]}}' >"$DIR/config.json"

echo "$TOKEN" | "$ORAS" login --plain-http -u admin --password-stdin "$HOST" >/dev/null
echo "oras login: ok (token flow)"

cd "$DIR/model"
push() { # REPO:TAG
	"$ORAS" push --plain-http "$HOST/$1" \
		--artifact-type application/vnd.cncf.model.manifest.v1+json \
		--config ../config.json:application/vnd.cncf.model.config.v1+json \
		model.safetensors:application/vnd.cncf.model.weight.v1.raw \
		config.json:application/vnd.cncf.model.weight.config.v1.raw >/dev/null
}
push ci/bert:v1
"$ORAS" pull --plain-http "$HOST/ci/bert:v1" -o "$DIR/out" >/dev/null
cmp model.safetensors "$DIR/out/model.safetensors" || fail "the pulled model differs"
echo "oras push then oras pull (ci, approved on push): round-trips"

push models/bert:v1
"$DIR/aigis" registry ls models | tee "$DIR/ls.txt"
grep -q modelpack "$DIR/ls.txt" || fail "not recognised as ModelPack"
grep -q "bert 1.0" "$DIR/ls.txt" || fail "no model metadata"
sleep 1
if "$ORAS" pull --plain-http "$HOST/models/bert:v1" -o "$DIR/out2" >"$DIR/pull.txt" 2>&1; then fail "a pending model was pulled"; fi
grep -i "denied" "$DIR/pull.txt" || fail "no DENIED"
grep -E "gate failed|pending approval" "$DIR/pull.txt" >/dev/null || fail "no reason in the refusal"
echo "oras pull of the models namespace: refused with the reason"

# oras push of a signed model, then oras attach of its OMS bundle: the
# gates rejected it unsigned, the attached signature sends it through them
# again, it waits for an approver (not the pusher), then oras pulls it.
mkdir -p "$DIR/signed"
printf '{"model_type":"bert"}' >"$DIR/signed/config.json"
printf -- '---\nlicense: mit\n---\n# bert\n' >"$DIR/signed/README.md"
"$DIR/aigis" sign --private-key "$DIR/signer.key" "$DIR/signed" >/dev/null
cd "$DIR/signed"
"$ORAS" push --plain-http "$HOST/signed/bert:v1" \
	--artifact-type application/vnd.cncf.model.manifest.v1+json \
	--config ../config.json:application/vnd.cncf.model.config.v1+json \
	config.json:application/vnd.cncf.model.weight.config.v1.raw \
	README.md:application/vnd.cncf.model.doc.v1.raw >/dev/null
sleep 2
"$ORAS" attach --plain-http "$HOST/signed/bert:v1" --artifact-type application/vnd.dev.sigstore.bundle.v0.3+json \
	model.sig:application/vnd.dev.sigstore.bundle.v0.3+json >/dev/null
for _ in $(seq 1 100); do
	state=$("$DIR/aigis" registry show signed/bert:v1 -o json | python3 -c 'import json,sys; v=json.load(sys.stdin); print(v["state"], bool(v.get("gate_digest")))')
	[ "$state" = "pending True" ] && break
	sleep 0.1
done
[ "$state" = "pending True" ] || fail "after oras attach the version is $state"
echo "oras attach of the signature: gated again, passed, pending approval"
"$DIR/aigis" registry user add reviewer --robot --key "$DIR/approver.pub" >/dev/null
"$DIR/aigis" registry role set reviewer signed approver >/dev/null
RTOKEN=$("$DIR/aigis" registry token create --user reviewer -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
AIGIS_TOKEN=$RTOKEN "$DIR/aigis" registry approve signed/bert:v1 --key "$DIR/approver.key" >/dev/null
"$ORAS" pull --plain-http "$HOST/signed/bert:v1" -o "$DIR/out3" >/dev/null
cmp README.md "$DIR/out3/README.md" || fail "the approved model differs"
echo "approved by another account, then oras pull: round-trips"
echo "all real-client checks passed"
