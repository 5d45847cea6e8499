#!/usr/bin/env bash
# Proves tools/check_arrows.sh: the real tree passes, and a copy of it with one include against
# the arrows (or one arrow removed from CMakeLists.txt) fails with that include named.
#
#   tests/tools/check_arrows_test.sh     (tools/test.sh and ctest run it)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CHECK="$ROOT/tools/check_arrows.sh"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

"$CHECK" "$ROOT" >/dev/null || { echo "FAIL: the real tree does not pass tools/check_arrows.sh"; exit 1; }

# A fresh copy of the sources the check reads.
copy_tree() {
  rm -rf "$WORK/tree"
  mkdir "$WORK/tree"
  (cd "$ROOT" && cp -r CMakeLists.txt base plugin providers idp storage http tools "$WORK/tree/")
}

# expect_failure NAME EXPECTED: the copy must fail the check with a line containing EXPECTED.
expect_failure() {
  local name=$1 expected=$2 out
  if out=$("$CHECK" "$WORK/tree" 2>&1); then
    echo "FAIL: $name: the check passed"
    failures=$((failures + 1))
  elif ! grep -qF -- "$expected" <<<"$out"; then
    echo "FAIL: $name: no line with '$expected' in:"
    echo "$out"
    failures=$((failures + 1))
  else
    echo "ok: $name"
  fi
}

# plant NAME FILE INCLUDE EXPECTED: appends the include to FILE in a fresh copy.
plant() {
  copy_tree
  echo "#include $3" >>"$WORK/tree/$2"
  expect_failure "$1" "$2:$(wc -l <"$WORK/tree/$2"): include $3 goes against arrow '$4"
}

plant "http includes storage" http/pages.cc '"storage/sqlite/sqlite_store.h"' "http/ -> "
plant "http includes a provider" http/pages.cc '"providers/totp/totp_provider.h"' \
  "http/ -> "
plant "http includes sqlite3.h" http/server.cc '<sqlite3.h>' \
  "sqlite3.h* only in storage/"
plant "http includes liboath" http/server.cc '<liboath/oath.h>' "liboath/* only in providers/"
plant "http includes libfido2" http/server.cc '<fido.h>' "fido.h* only in providers/"
plant "a provider includes Pistache" providers/totp/totp_provider.cc '<pistache/http.h>' \
  "pistache/* only in http/"
plant "a provider includes the core" providers/totp/totp_provider.cc '"idp/login/two_factor.h"' \
  "providers/ -> "
plant "base includes plugin" base/url.cc '"plugin/registry.h"' "base/ -> nothing of ours'"
plant "plugin includes the core" plugin/registry.cc '"idp/store/store.h"' "plugin/ -> base/'"
plant "mail includes login (upward)" idp/mail/mail.cc '"idp/login/login_flow.h"' \
  "idp/mail/ -> "
plant "oidc includes admin (upward)" idp/oidc/provider.cc '"idp/admin/admin_api.h"' \
  "idp/oidc/ -> "
plant "the store interfaces include storage" idp/store/store.h '"storage/sqlite/statement.h"' \
  "idp/store/ -> "
plant "storage includes the core" storage/sqlite/sqlite_store.cc '"idp/login/throttle.h"' \
  "storage/sqlite/ -> "
plant "the core wires the plugin loader" idp/oidc/provider.cc '"plugin/loader.h"' \
  "only tools/ wires plugin/loader.h"
plant "the core wires the built-in providers" idp/admin/admin_api.cc '"providers/builtin.h"' \
  "idp/admin/ -> "

copy_tree
mkdir "$WORK/tree/idp/unlisted"
echo '#include "base/result.h"' >"$WORK/tree/idp/unlisted/unlisted.h"
expect_failure "a folder missing from the table" "folder idp/unlisted/ is not in the arrow table"

# The arrows are CMakeLists.txt's links: without admin -> oidc, admin's include of oidc fails.
copy_tree
sed -i '/keystep_library(keystep_admin/s/ keystep_oidc//' "$WORK/tree/CMakeLists.txt"
expect_failure "an arrow removed from CMakeLists.txt" "include \"idp/oidc/provider.h\" goes against arrow 'idp/admin/ -> "

if ((failures)); then
  echo "check_arrows_test: $failures failure(s)"
  exit 1
fi
echo "check_arrows_test: passed"
