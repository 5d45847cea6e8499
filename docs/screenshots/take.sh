#!/usr/bin/env bash
# Takes the screenshots of docs/user-guide.md with Debian's chromium against a real keystep
# server and writes them to docs/images/. Usage: bash docs/screenshots/take.sh PATH_TO_KEYSTEP
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

# Debian's chromium is driven by playwright-core, which never downloads a browser; oathtool
# plays the authenticator app and zbarimg its camera.
missing=()
[[ -x /usr/bin/chromium ]] || missing+=(chromium)
command -v oathtool >/dev/null || missing+=(oathtool)
command -v zbarimg >/dev/null || missing+=(zbar-tools)
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

cd "$(dirname "$0")"
PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error
node take.mjs "$KEYSTEP_BIN"
