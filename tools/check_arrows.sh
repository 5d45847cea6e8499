#!/usr/bin/env bash
# The arrow check (docs/architecture.md): fails when a source file includes against the
# arrows, printing "file:line: include X goes against arrow Y" for each such include.
#
#   tools/check_arrows.sh [SOURCE_DIR]     (default: the checkout this script is in)
#
# What a folder may include of ours is what its CMake library links, directly or through
# others: the keystep_library / target_link_libraries lines of CMakeLists.txt are the arrows,
# read from there. This script adds, in the one table below, which library each folder's
# sources belong to, and the rules a link cannot say: who owns a third-party header
# (Pistache, SQLite, libpq, liboath, libfido2, libcbor, libykpers) and the wiring headers only tools/ uses.
# A folder of C++ sources missing from the table is an error, so the table stays current.
# tests/ and bench/ wire what they test and are not checked.
set -euo pipefail
ROOT=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
exec python3 - "$ROOT" <<'PY'
import os, re, sys

root = sys.argv[1]

# folder: (CMake library of its sources, sub-folders belong to it too)
FOLDERS = {
    "base": ("keystep_base", True),
    "plugin": ("keystep_plugin", False),
    "providers": ("keystep_providers", True),
    "idp/store": ("keystep_store_api", False),
    "idp/outcome": ("keystep_outcome", False),
    "idp/observability": ("keystep_observability", False),
    "idp/config": ("keystep_config", False),
    "idp/mail": ("keystep_mail", False),
    "idp/directory": ("keystep_directory", False),
    "idp/login": ("keystep_login", False),
    "idp/oidc": ("keystep_oidc", False),
    "idp/profile": ("keystep_profile", False),
    "idp/admin": ("keystep_admin", False),
    "idp/reset": ("keystep_reset", False),
    "storage/sqlite": ("keystep_storage", False),
    "storage/postgres": ("keystep_storage_postgres", False),
    "http": ("keystep_http", False),
    "tools/cli": ("keystep_cli", False),
    "tools/keystep": ("keystep", False),
    "tools/keystep-enroll": ("keystep_enroll_tool", False),
}
# A third-party header (the start of its <...> name) and the only folder(s) that may include it.
OWNED_HEADERS = [
    ("pistache/", "http"),      # http is the only Pistache code
    ("sqlite3.h", "storage"),   # SQL lives only in storage/
    ("libpq-fe.h", "storage/postgres"),
    ("liboath/", "providers"),  # second-factor libraries stay inside their provider
    ("oath.h", "providers"),
    ("fido.h", ("providers", "tools/keystep-enroll")),  # the verifier and the tool's client
    ("fido/", ("providers", "tools/keystep-enroll")),
    ("cbor.h", ("providers", "tools/keystep-enroll")),
    ("cbor/", ("providers", "tools/keystep-enroll")),
    ("ykpers", "tools/keystep-enroll"),  # the enrollment tool programs keys; no provider does
    ("ykcore.h", "tools/keystep-enroll"),
    ("ykdef.h", "tools/keystep-enroll"),
    ("ykstatus.h", "tools/keystep-enroll"),
    ("CLI/", "tools/cli"),      # one command-line parser, CLI11 underneath
]
# Headers that wire concrete pieces together: only their own folder and tools/ include them.
WIRING_HEADERS = ["plugin/loader.h", "providers/builtin.h", "storage/"]
# Folders not checked: they wire or measure whatever they need.
UNCHECKED = ("tests/", "bench/")

errors = []

def fail(message):
    errors.append(message)

# --- the arrows, from CMakeLists.txt
cmake_path = os.path.join(root, "CMakeLists.txt")
cmake = re.sub(r"#[^\n]*", "", open(cmake_path).read())
calls = [(m.group(1), m.group(2).split())
         for m in re.finditer(r"\b(keystep_library|target_link_libraries|add_library|add_executable)"
                              r"\s*\(([^)]*)\)", cmake)]
targets = {args[0] for kind, args in calls if kind != "target_link_libraries"
           and args[0].startswith("keystep")}
links = {t: set() for t in targets}
dirs = {}
for kind, args in calls:
    name = args[0]
    if name not in targets:
        continue
    if kind == "keystep_library":
        section = None
        for word in args[1:]:
            if word in ("DIRS", "LINKS", "PRIVATE_LINKS"):
                section = word
            elif section == "DIRS":
                dirs[word] = name
            elif word in targets:
                links[name].add(word)
    elif kind == "target_link_libraries":
        links[name] |= {w for w in args[1:] if w in targets}

for folder, (library, _) in FOLDERS.items():
    if library not in targets:
        fail(f"tools/check_arrows.sh: {folder}/ belongs to {library}, which CMakeLists.txt does not define")
for folder, library in dirs.items():
    if folder in FOLDERS and FOLDERS[folder][0] == library:
        continue
    owner = next((f for f, (_, subs) in FOLDERS.items() if subs and folder.startswith(f + "/")), None)
    if owner and FOLDERS[owner][0] == library:
        continue
    fail(f"CMakeLists.txt: {library} builds {folder}/, which the table of tools/check_arrows.sh "
         f"does not give to {library}: add it there")

def reach(library):
    seen, todo = {library}, [library]
    while todo:
        for nxt in links.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen

def folder_of(path):
    """The table's folder holding `path` (a file or a header name), or None."""
    directory = os.path.dirname(path)
    for folder, (_, subs) in FOLDERS.items():
        if directory == folder or (subs and directory.startswith(folder + "/")):
            return folder
    return None

# --- the sources
sources = []
for dirpath, dirnames, filenames in os.walk(root):
    rel_dir = os.path.relpath(dirpath, root)
    rel_dir = "" if rel_dir == "." else rel_dir
    dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "build")) and d != "node_modules")
    for f in sorted(filenames):
        if f.endswith((".h", ".cc", ".hpp", ".cpp")):
            sources.append(os.path.join(rel_dir, f))

ours = {f.split("/")[0] for f in FOLDERS} | {"tests", "bench"}
include_re = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')
unknown_reported = set()
for src in sources:
    if src.startswith(UNCHECKED):
        continue
    here = folder_of(src)
    if here is None:
        d = os.path.dirname(src) or "."
        if d not in unknown_reported:
            unknown_reported.add(d)
            fail(f"{src}: folder {d}/ is not in the arrow table of tools/check_arrows.sh "
                 f"(add it with its CMake library)")
        continue
    library = FOLDERS[here][0]
    allowed = reach(library)
    with open(os.path.join(root, src), errors="replace") as text:
        for number, line in enumerate(text, 1):
            m = include_re.match(line)
            if not m:
                continue
            bracket, name = m.groups()
            where = f"{src}:{number}: include {bracket}{name}{'>' if bracket == '<' else chr(34)}"
            if bracket == "<":
                for prefix, owner in OWNED_HEADERS:
                    owners = (owner,) if isinstance(owner, str) else owner
                    if name.startswith(prefix) and not any((here + "/").startswith(o + "/")
                                                           for o in owners):
                        fail(f"{where} goes against arrow '{prefix}* only in "
                             f"{' and '.join(o + '/' for o in owners)}'")
                continue
            if name.split("/")[0] not in ours:
                continue
            target = folder_of(name)
            if target is None:
                fail(f"{where} goes against arrow '{here}/ -> tests/ never' "
                     if name.startswith(("tests/", "bench/")) else
                     f"{where}: {os.path.dirname(name)}/ is not in the arrow table")
                continue
            target_library = FOLDERS[target][0]
            if target_library not in allowed:
                reachable = [f + "/" for f, (lib, _) in FOLDERS.items()
                             if lib in allowed and f != here]
                fail(f"{where} goes against arrow '{here}/ -> "
                     f"{', '.join(reachable) or 'nothing of ours'}' ({library} links in CMakeLists.txt)")
                continue
            for wiring in WIRING_HEADERS:
                if (name == wiring or (wiring.endswith("/") and name.startswith(wiring))) \
                        and target != here and not here.startswith("tools/"):
                    fail(f"{where} goes against arrow 'only tools/ wires {wiring}'")

for e in errors:
    print(e, file=sys.stderr)
if errors:
    print(f"check_arrows: {len(errors)} include(s) against the arrows (CMakeLists.txt link lines, "
          f"tools/check_arrows.sh)", file=sys.stderr)
    sys.exit(1)
print(f"check_arrows: {len(sources)} files, every include follows the arrows")
PY
