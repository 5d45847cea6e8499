#!/usr/bin/env bash
# The README's two commands share build/: tools/quickstart.sh configures it without tests, then
# tools/test.sh configures it again, and CMake's cache keeps whatever a command leaves out. So
# every configure line of the scripts (quickstart.sh, test.sh, bench/run) must set the build type
# and every KEYSTEP_* option of CMakeLists.txt; and quickstart's configure followed by test.sh's
# must give a build whose ctest finds tests.
#
#   tests/tools/build_options_test.sh [SOURCE_DIR]     (tools/test.sh runs it)
set -euo pipefail
ROOT=${1:-"$(cd "$(dirname "$0")/../.." && pwd)"}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

options=(CMAKE_BUILD_TYPE $(sed -nE 's/^\s*option\((KEYSTEP_[A-Z_]+).*/\1/p' "$ROOT/CMakeLists.txt"))
# The script's `cmake -S . -B DIR …` lines, continuation lines joined.
configure_lines() {
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$ROOT/$1" | grep -E '^\s*cmake -S \. -B ' || true
}

for script in tools/quickstart.sh tools/test.sh bench/run; do
  lines=$(configure_lines "$script")
  [[ -n $lines ]] || { echo "FAIL: $script has no 'cmake -S . -B' line"; failures=$((failures + 1)); }
  while IFS= read -r line; do
    [[ -n $line ]] || continue
    for o in "${options[@]}"; do
      if [[ $line != *"-D$o="* ]]; then
        echo "FAIL: $script does not set $o: $line"
        failures=$((failures + 1))
      fi
    done
  done <<<"$lines"
done

# The README's order into one build directory: quickstart.sh, then test.sh.
configure_build() {  # SCRIPT: runs its configure line of build/ into $WORK/build
  local line
  line=$(configure_lines "$1" | grep -E -- '-B build( |$)' | head -n1)
  [[ -n $line ]] || { echo "FAIL: $1 does not configure build/"; return 1; }
  line=${line/ -B build / -B $WORK/build }
  line=${line%>/dev/null}
  (cd "$ROOT" && eval "$line") >"$WORK/configure.log" 2>&1 ||
    { echo "FAIL: $1: configure failed:"; cat "$WORK/configure.log"; return 1; }
}
if configure_build tools/quickstart.sh && configure_build tools/test.sh; then
  tests=$(ctest --test-dir "$WORK/build" -N | sed -nE 's/^Total Tests: ([0-9]+)$/\1/p')
  if [[ ${tests:-0} -eq 0 ]]; then
    echo "FAIL: after quickstart.sh then test.sh, ctest finds no tests in build/"
    failures=$((failures + 1))
  fi
else
  failures=$((failures + 1))
fi

if ((failures)); then
  echo "build_options_test: $failures failure(s)"
  exit 1
fi
echo "build_options_test: passed (quickstart.sh then test.sh: ctest finds $tests tests)"
