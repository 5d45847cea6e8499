#!/usr/bin/env bash
# End-to-end tests: a real OpenID Connect relying party (openid-client) against the real
# keystep binary, all on loopback. Usage: tests/e2e/run.sh PATH_TO_KEYSTEP_BINARY
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 PATH_TO_KEYSTEP_BINARY" >&2
  exit 2
fi
if [[ ! -x "$1" ]]; then
  echo "$0: $1 is not an executable keystep binary" >&2
  exit 2
fi
KEYSTEP_BIN="$(realpath "$1")"
export KEYSTEP_BIN

cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
node --test --test-reporter=spec ./*.test.mjs
