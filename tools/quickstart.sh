#!/usr/bin/env bash
# README quick start, first command: install, build, initialise ./data with a demo account
# (once; its admin password is printed then) and serve on http://localhost:8080.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA_DIR=${KEYSTEP_DATA_DIR:-data}
tools/install-deps.sh
# Every option explicitly: tools/test.sh configures the same build/ differently, and CMake's
# cache would keep its choices (tests/tools/build_options_test.sh checks both scripts).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DKEYSTEP_BUILD_TESTS=OFF -DKEYSTEP_SANITIZE=OFF \
  -DKEYSTEP_FUZZ=OFF >/dev/null
cmake --build build -j"$(nproc)" --target keystep
if [[ ! -f "$DATA_DIR/keystep.db" ]]; then
  build/keystep init --data-dir "$DATA_DIR" --issuer "http://localhost:8080" --demo
else
  echo "Using existing data directory $DATA_DIR (delete it to start over with a new demo)."
fi
exec build/keystep serve --data-dir "$DATA_DIR" --listen 0.0.0.0:8080
