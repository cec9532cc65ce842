#!/usr/bin/env bash
# Makes the benchmark models: random weights in the shape of Qwen1.5-0.5B
# (qwen2 architecture, n_embd 1024, 24 layers, 16 heads, n_ff 2816, vocab
# 151936, untied head), in the file types Q4_0, Q4_K_M, Q8_0 and Q2_K, with
# the real Qwen vocabulary when the Qwen2.5 test model is in the cache
# (scripts/fetch-test-models.sh).  Files go to a cache outside the repository,
# $QM_TEST_CACHE/models/bench (QM_TEST_CACHE defaults to ~/.cache/qm-test);
# existing files are kept.  Prints the path of each model.
#
# Usage: make-bench-models.sh [TYPE...]         (default: q4_0 q4_k_m q8_0 q2_k)
# Environment:
#   QM_BENCH_PRESET   a make_test_model preset (default qwen1.5-0.5b; the 7B
#                     and 14B presets are for machines with the disk and time)
#   QM_BENCH_SEED     weight seed (default 1)
#   QM_MAKE_TEST_MODEL  the tool (default: build/tests/make_test_model, built
#                     if missing)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${QM_TEST_CACHE:-$HOME/.cache/qm-test}
out="$cache/models/bench"
preset=${QM_BENCH_PRESET:-qwen1.5-0.5b}
seed=${QM_BENCH_SEED:-1}
tool=${QM_MAKE_TEST_MODEL:-$top/build/tests/make_test_model}
types=("$@")
[ ${#types[@]} -gt 0 ] || types=(q4_0 q4_k_m q8_0 q2_k)

if [ ! -x "$tool" ]; then
  echo "make-bench-models: building make_test_model in $top/build" >&2
  cmake -S "$top" -B "$top/build" -DCMAKE_BUILD_TYPE=Release >&2
  cmake --build "$top/build" --target make_test_model -j "$(nproc)" >&2
  tool="$top/build/tests/make_test_model"
fi

# the real Qwen vocabulary if we have it (or can fetch it); the files say
# which vocabulary they carry, so a later run with it does not reuse one without
real="$cache/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
if [ ! -f "$real" ] && [[ $preset == qwen* ]]; then
  QM_TEST_CACHE=$cache bash "$top/scripts/fetch-test-models.sh" qwen25 >&2 ||
    echo "make-bench-models: no Qwen vocabulary; using the built-in byte-level one" >&2
fi
vocab=()
tag=""
if [[ $preset == qwen* ]] && [ -f "$real" ]; then
  vocab=(--vocab-from "$real")
else
  tag="-bytevocab"
fi

mkdir -p "$out"
for t in "${types[@]}"; do
  t=${t,,}
  f="$out/$preset$tag-$t.gguf"
  if [ ! -f "$f" ]; then
    echo "make-bench-models: making $f" >&2
    "$tool" --preset "$preset" --type "$t" --seed "$seed" "${vocab[@]}" --out "$f" >&2
  fi
  echo "$f"
done
