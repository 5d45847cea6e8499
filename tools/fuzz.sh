#!/usr/bin/env bash
# Builds the libFuzzer harnesses of tests/fuzz with clang, ASan and UBSan in build-fuzz/ and
# runs each for SECONDS (default 60) on a copy of its seed corpus (tests/fuzz/corpus/<name>/).
# Fails on the first harness that crashes, leaks, times out or breaks a property; the input
# is then in build-fuzz/fuzz/artifacts/<name>/ (rerun: build-fuzz/fuzz/<name> <file>).
#   tools/fuzz.sh [SECONDS] [HARNESS...]     e.g. tools/fuzz.sh 10, tools/fuzz.sh 300 mail_fuzz
# CI (tools/test.sh) runs tools/fuzz.sh 10. FUZZ_JOBS sets the build's parallelism, FUZZ_RUNS
# a number of executions instead of SECONDS (the long run: FUZZ_RUNS=10000000 nice -n 10
# tools/fuzz.sh), FUZZ_MAX_LEN the longest input (default 4096).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${1:-60}
shift || true
JOBS=${FUZZ_JOBS:-$(nproc)}

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
echo "== build-fuzz (clang, libFuzzer, ASan+UBSan)"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DCMAKE_CXX_FLAGS=-O1 \
  -DKEYSTEP_FUZZ=ON -DKEYSTEP_BUILD_TESTS=OFF "${launcher[@]}" >/dev/null
cmake --build build-fuzz -j"$JOBS" --target fuzzers

harnesses=("$@")
if ((${#harnesses[@]} == 0)); then
  for src in tests/fuzz/*_fuzz.cc; do harnesses+=("$(basename "$src" .cc)"); done
fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
limit=(-max_total_time="$SECONDS_EACH")
[[ -n "${FUZZ_RUNS:-}" ]] && limit=(-runs="$FUZZ_RUNS")
for name in "${harnesses[@]}"; do
  seeds=tests/fuzz/corpus/$name
  work=build-fuzz/fuzz/corpus/$name      # grows; the committed seeds stay as they are
  artifacts=build-fuzz/fuzz/artifacts/$name
  mkdir -p "$work" "$artifacts"
  echo "== $name: ${limit[*]}"
  if ! build-fuzz/fuzz/"$name" "${limit[@]}" -timeout=10 -rss_limit_mb=2048 \
      -max_len="${FUZZ_MAX_LEN:-4096}" -print_final_stats=1 -artifact_prefix="$artifacts/" \
      "$work" "$seeds" 2>build-fuzz/fuzz/"$name".log; then
    tail -n 60 build-fuzz/fuzz/"$name".log
    echo "FAIL: $name (log: build-fuzz/fuzz/$name.log, input: $artifacts/)"
    exit 1
  fi
  grep -E '^stat::number_of_executed_units|^stat::average_exec_per_sec' \
    build-fuzz/fuzz/"$name".log | tr '\n' ' ' || true
  echo
done
echo "== fuzzing: ${#harnesses[@]} harnesses, no crash"
