#!/usr/bin/env bash
# Installs every Debian 12 package Keystep needs to build, run and test. Idempotent: packages
# already present are left alone and apt is not called at all when nothing is missing.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config ca-certificates
  libpistache-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libargon2-dev
  libcurl4-openssl-dev libcli11-dev libykpers-1-dev
  liboath-dev libqrencode-dev libpng-dev
  libfido2-dev libcbor-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  sqlite3 curl nodejs npm
  postgresql-15 libpq-dev haproxy
  oathtool zbar-tools chromium
  python3 python3-aiosmtpd
  python3-authlib python3-requests
  apache2 libapache2-mod-auth-openidc
)

missing=()
for p in "${PACKAGES[@]}"; do
  # Compared whole, not piped into `grep -q`: under pipefail an early grep exit can fail the
  # pipeline (SIGPIPE), as it did in bench/run.
  if [[ $(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
# nodejs/npm may come from elsewhere on a developer machine; a working node is enough.
if command -v node >/dev/null && command -v npm >/dev/null; then
  filtered=()
  for p in "${missing[@]}"; do [[ "$p" == nodejs || "$p" == npm ]] || filtered+=("$p"); done
  missing=("${filtered[@]+"${filtered[@]}"}")
fi
if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
