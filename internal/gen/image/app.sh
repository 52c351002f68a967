#!/usr/bin/env bash
# app.sh OUT: the application layer of the acceptance image, made with the
# rootfs's own Python (torch and numpy from Debian): a torch checkpoint, a
# numpy array, a pickle that a later layer deletes, application code that
# loads with trust_remote_code=True, and a planted fake Hugging Face token
# (random, never issued). Run after rootfs.sh; records what it made in
# OUT/app.txt.
set -euo pipefail
out=${1:?usage: app.sh OUT}
root=$out/rootfs
app=$out/app
rm -rf "$app" && mkdir -p "$app/opt/models" "$app/opt/app" "$app/root/.cache/huggingface"
mkdir -p "$root/tmp/gen"
chroot "$root" python3 - <<'PY'
import torch, numpy, pickle
torch.manual_seed(0)
m = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 4))
torch.save(m.state_dict(), "/tmp/gen/model.pt")
numpy.save("/tmp/gen/embeddings.npy", numpy.arange(1024, dtype=numpy.float32).reshape(32, 32))
with open("/tmp/gen/old.pkl", "wb") as f:
    pickle.dump({"vocab": ["a", "b"], "version": 1}, f, protocol=2)
PY
mv "$root"/tmp/gen/* "$app/opt/models/" && rmdir "$root/tmp/gen"
cat > "$app/opt/app/serve.py" <<'PY'
from transformers import AutoModelForCausalLM

model = AutoModelForCausalLM.from_pretrained("example-org/chat-model", trust_remote_code=True)
PY
tok=hf_$(head -c 200 /dev/urandom | tr -dc 'A-Za-z' | head -c 34)
printf 'HF_TOKEN=%s\n' "$tok" > "$app/opt/app/.env"
printf '%s' "$tok" > "$app/root/.cache/huggingface/token"
chmod 0777 "$app/opt/models"
{
  echo "app layer:"
  (cd "$app" && find . -type f -printf '%p %s\n' | sort)
  echo "planted token: ${tok:0:5}... in /opt/app/.env and /root/.cache/huggingface/token"
  echo "/opt/models is mode 0777; /opt/models/old.pkl is deleted by layer 3"
} > "$out/app.txt"
