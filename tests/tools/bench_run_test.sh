#!/usr/bin/env bash
# bench/run's require_target: finds a target in a build whose target list is long (the old
# `cmake --build … --target help | grep -q` under pipefail did not: grep stopped reading, cmake
# died of SIGPIPE), and stops with an error naming the part when the target is missing.
#
#   tests/tools/bench_run_test.sh     (tools/test.sh runs it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# shellcheck source=../../bench/run
source "$ROOT/bench/run"

# A project with the target early in a long list (help sorts by name), as in Keystep's build.
project() {
  mkdir -p "$WORK/$1"
  {
    echo "cmake_minimum_required(VERSION 3.25)"
    echo "project(bench_run_test NONE)"
    [[ $2 == with ]] && echo "add_custom_target(keystep_bench_totp)"
    echo "foreach(i RANGE 400)"
    echo "  add_custom_target(later_target_\${i})"
    echo "endforeach()"
  } >"$WORK/$1/CMakeLists.txt"
  cmake -S "$WORK/$1" -B "$WORK/$1/build" >/dev/null
}

project present with
for i in 1 2 3; do
  require_target "$WORK/present/build" keystep_bench_totp "never printed" ||
    { echo "FAIL: keystep_bench_totp not found although the build has it (attempt $i)"; exit 1; }
done

project absent without
if out=$(require_target "$WORK/absent/build" keystep_bench_totp "the TOTP part needs X" 2>&1); then
  echo "FAIL: a missing target was accepted"
  exit 1
fi
[[ $out == *"has no target keystep_bench_totp: the TOTP part needs X"* ]] ||
  { echo "FAIL: unclear message: $out"; exit 1; }
echo "bench_run_test: passed"
