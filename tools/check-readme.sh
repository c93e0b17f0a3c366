#!/usr/bin/env bash
# check-readme.sh - check that README.md works as written.
#
#   tools/check-readme.sh [--full] [--keep]
#
# Conventions in README.md (fenced code blocks; a fence may be indented,
# e.g. inside a list item):
#   ```sh       run: every such block, in order, in one bash process
#               (set -euo pipefail), so an `export` in one block holds for
#               the next.  They run from a copy of the source tree (the
#               files git tracks, as they are in the working tree) with
#               HOME set to a scratch directory, so `make install
#               PREFIX=$HOME/...` installs there.
#   ```console  shown only: long jobs (make test, make demo, make bench)
#               and sessions with their output.
#   ```c        the example program: there must be exactly one, identical
#               to examples/readme_example.c.
#   ```text     after a line "<!-- check-readme: output of ./example -->":
#               what ./example prints; checked after the sh blocks ran.
# Also checked: the make targets the README names exist (make -n), the
# relative links point at files, the gdb extension was installed, and
# docs/api.md is up to date with include/goro.h (tools/gen-api-doc.py
# --check, when python3 is installed).
#
# To keep the run short the copy is built with CMAKE_FLAGS
# "-DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF" (the Makefile passes
# CMAKE_FLAGS to CMake); --full builds everything, as a user would.
# --keep leaves the scratch directory in place.  Exit status: 0 if every
# check passed, 1 otherwise.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
README=$ROOT/README.md
FULL=0
KEEP=0
for a in "$@"; do
  case "$a" in
    --full) FULL=1 ;;
    --keep) KEEP=1 ;;
    -h | --help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "check-readme: unknown option $a" >&2; exit 2 ;;
  esac
done

FAILED=0
fail() { echo "check-readme: FAILED: $*" >&2; FAILED=1; }
ok() { echo "check-readme: ok: $*"; }

TMP=$(mktemp -d "${TMPDIR:-/tmp}/goro-readme.XXXXXX")
cleanup() { if [ $KEEP = 1 ] || [ $FAILED = 1 ]; then echo "check-readme: scratch kept in $TMP"; else rm -rf "$TMP"; fi; }
trap cleanup EXIT

# ---- extract the blocks ----
# Writes $TMP/blocks/NNN.<lang> for every fenced block (indentation of the
# fence removed from its lines) and $TMP/blocks/output.text for the block
# after the output marker.
mkdir -p "$TMP/blocks"
awk -v dir="$TMP/blocks" '
  function flush() { close(file) }
  !inblock && /^[ \t]*```[a-z]*[ \t]*$/ {
    match($0, /^[ \t]*/); indent = RLENGTH
    lang = $0; sub(/^[ \t]*```/, "", lang); sub(/[ \t]*$/, "", lang)
    if (lang == "") lang = "none"
    n++
    file = sprintf("%s/%03d.%s", dir, n, lang)
    if (marker && lang == "text") file = dir "/output.text"
    marker = 0
    printf "" > file
    inblock = 1
    next
  }
  inblock && /^[ \t]*```[ \t]*$/ { inblock = 0; flush(); next }
  inblock {
    line = $0
    pre = substr(line, 1, indent)
    if (pre ~ /^[ \t]*$/) line = substr(line, indent + 1)
    print line > file
    next
  }
  /<!-- check-readme: output of \.\/example -->/ { marker = 1; next }
  /[^ \t]/ { marker = marker && 0 }
  END { if (inblock) { print "unterminated code block" > "/dev/stderr"; exit 1 } }
' "$README" || fail "could not parse README.md"

nsh=$(find "$TMP/blocks" -name '*.sh' | wc -l)
nc=$(find "$TMP/blocks" -name '*.c' | wc -l)
echo "check-readme: $nsh sh blocks to run, $nc c block(s)"

# ---- the example program ----
if [ "$nc" -ne 1 ]; then
  fail "README.md must have exactly one c block (the example), found $nc"
elif diff -u "$ROOT/examples/readme_example.c" "$TMP"/blocks/*.c; then
  ok "the c block is identical to examples/readme_example.c"
else
  fail "the c block differs from examples/readme_example.c (diff above)"
fi
[ -s "$TMP/blocks/output.text" ] || fail "no text block after the output marker"

# ---- make targets ----
for t in build test demo bench install; do
  if make -C "$ROOT" -n "$t" >/dev/null 2>&1; then
    ok "make $t exists"
  else
    fail "make $t: no such target"
  fi
done

# ---- relative links ----
grep -o '](\([^)#:]*\)[)#]' "$README" | sed -E 's/^\]\(//; s/[)#]$//' | sort -u |
  while read -r link; do
    [ -n "$link" ] || continue
    [ -e "$ROOT/$link" ] || echo "$link"
  done >"$TMP/badlinks"
if [ -s "$TMP/badlinks" ]; then
  fail "links to missing files: $(tr '\n' ' ' <"$TMP/badlinks")"
else
  ok "relative links resolve"
fi

# ---- docs/api.md up to date ----
if command -v python3 >/dev/null 2>&1; then
  if python3 "$ROOT/tools/gen-api-doc.py" --check; then
    ok "docs/api.md matches include/goro.h"
  else
    fail "docs/api.md is stale: run tools/gen-api-doc.py"
  fi
else
  echo "check-readme: python3 not installed: docs/api.md not checked"
fi

# ---- run the sh blocks ----
SRC=$TMP/src
mkdir -p "$SRC" "$TMP/home"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z | while IFS= read -r -d '' f; do
    [ -e "$f" ] && printf '%s\0' "$f"
  done | tar --null -T - -cf -) | tar -xf - -C "$SRC"
else
  (cd "$ROOT" && tar --exclude='./build*' -cf - .) | tar -xf - -C "$SRC"
fi
cp "$README" "$SRC/README.md"

{
  echo 'set -euo pipefail'
  echo 'PS4="+ readme\$ "'
  echo 'set -x'
  for f in "$TMP"/blocks/*.sh; do
    [ -e "$f" ] || continue
    echo "# --- $(basename "$f")"
    cat "$f"
  done
  echo 'set +x'
  # After the README's own commands, with their environment: the output
  # of the example and the installed gdb extension.
  echo './example >"$CHECK_TMP/example.out"'
  echo 'find "$HOME" -name goro-gdb.py | grep -q . || { echo "gdb extension not installed under $HOME" >&2; exit 3; }'
} >"$TMP/readme-commands.sh"

cflags="-DGORO_BUILD_TESTS=OFF -DGORO_BUILD_BENCH=OFF"
[ $FULL = 1 ] && cflags=""
echo "check-readme: running the sh blocks in $SRC (HOME=$TMP/home)"
if (cd "$SRC" && env HOME="$TMP/home" CHECK_TMP="$TMP" CMAKE_FLAGS="$cflags" \
  PKG_CONFIG_PATH= LD_LIBRARY_PATH= bash "$TMP/readme-commands.sh") >"$TMP/run.log" 2>&1; then
  ok "every sh block ran"
else
  tail -n 60 "$TMP/run.log"
  fail "an sh block failed (log: $TMP/run.log)"
fi
grep -E '^\+ readme\$ ' "$TMP/run.log" | sed 's/^+ readme\$ /  ran: /'

if [ -f "$TMP/example.out" ]; then
  if diff -u "$TMP/blocks/output.text" "$TMP/example.out"; then
    ok "./example prints what the README says"
  else
    fail "./example output differs from the README (diff above)"
  fi
else
  fail "./example did not run"
fi

if [ $FAILED = 0 ]; then
  echo "check-readme: all checks passed"
  exit 0
fi
echo "check-readme: FAILED" >&2
exit 1
