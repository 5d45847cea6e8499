#!/usr/bin/env bash
# README quick start, second command: install, build and run every test suite: the arrow check
# and the scripts' tests (tools/check_arrows.sh, tests/tools/), unit and HTTP tests (ctest), the
# same under ASan+UBSan, the end-to-end tests with real clients (tests/e2e/run.sh), and a short
# run of every fuzzing harness (tools/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install-deps.sh
JOBS=$(nproc)

echo "== arrows (tools/check_arrows.sh) and the scripts' tests (tests/tools/)"
tools/check_arrows.sh
for t in tests/tools/*_test.sh; do "$t"; done

echo "== build (RelWithDebInfo)"
# Every option explicitly: the quick start's first command configures the same build directory
# without tests, and CMake keeps its choices in the cache (tests/tools/build_options_test.sh).
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEYSTEP_BUILD_TESTS=ON \
  -DKEYSTEP_SANITIZE=OFF -DKEYSTEP_FUZZ=OFF >/dev/null
cmake --build build -j"$JOBS"
echo "== unit and HTTP tests"
(cd build && ctest --output-on-failure --no-tests=error -j"$JOBS")

echo "== unit and HTTP tests under AddressSanitizer + UndefinedBehaviorSanitizer"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKEYSTEP_BUILD_TESTS=ON -DKEYSTEP_SANITIZE=ON \
  -DKEYSTEP_FUZZ=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --output-on-failure --no-tests=error -j"$JOBS")

echo "== end-to-end tests"
tests/e2e/run.sh build/keystep

echo "== fuzzing smoke: every libFuzzer harness for 10 s (clang, ASan+UBSan; tools/fuzz.sh)"
tools/fuzz.sh 10
