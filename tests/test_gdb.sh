#!/usr/bin/env bash
# test_gdb.sh - checks tools/gdb/goro-gdb.py against a live process and a
# core file.
#
# Usage: tests/test_gdb.sh [BUILD_DIR]   (default: build; needs libgoro.a
# built with debug info, e.g. RelWithDebInfo, and gdb installed)
#
# Builds tests/gdb/parked.c against BUILD_DIR/libgoro.a: five goroutines
# (three parked on a channel receive two calls deep, one sleeping, the main
# one waiting in a blocking call).  Then:
#  1. live: attaches gdb to it, runs `info goroutines` and `goroutine N bt`;
#  2. core: lets it abort() with core dumps on and runs the same on the
#     core.  When core_pattern pipes cores to a helper, it is pointed at a
#     plain file for the duration of the test if we may write it (root),
#     else this part is skipped.  (gcore is not used: it cannot read stack
#     chunks that contain guard pages made with MADV_GUARD_INSTALL.)
# Prints "gdb tests: N passed, N failed" and exits non-zero on failure;
# exits 77 (skip) when gdb or ptrace is unavailable.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" && pwd) || { echo "no build dir $1"; exit 2; }
lib=$build/libgoro.a
script=$root/tools/gdb/goro-gdb.py
cc=${CC:-cc}

if ! command -v gdb >/dev/null; then echo "gdb tests: skipped (no gdb)"; exit 77; fi
if [ ! -f "$lib" ]; then echo "gdb tests: no $lib"; exit 2; fi

tmp=$(mktemp -d /tmp/goro-gdb.XXXXXX)
old_pattern=
cleanup() {
  [ -n "$old_pattern" ] && printf '%s\n' "$old_pattern" > /proc/sys/kernel/core_pattern
  [ -n "${pid:-}" ] && kill "$pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT

extra=()
if nm "$lib" 2>/dev/null | grep -q ' U backtrace_pcinfo'; then
  extra+=("$($cc -print-file-name=libbacktrace.a)")
fi
if ! $cc -g -O1 -fno-omit-frame-pointer -I"$root/include" "$root/tests/gdb/parked.c" "$lib" \
    "${extra[@]}" -lpthread -ldl -o "$tmp/parked"; then
  echo "gdb tests: cannot build tests/gdb/parked.c"; exit 1
fi

pass=0
fail=0
check() { # name file pattern...
  local name=$1 file=$2; shift 2
  local p
  for p in "$@"; do
    if ! grep -Eq -- "$p" "$file"; then
      echo "not ok - $name: no match for /$p/ in:"; sed 's/^/#   /' "$file"
      fail=$((fail + 1)); return
    fi
  done
  echo "ok - $name"; pass=$((pass + 1))
}

gdb_cmds=(-batch -nx -ex "set pagination off" -ex "source $script"
          -ex "info goroutines" -ex "goroutine 2 bt" -ex "goroutine 1 bt" -ex "goroutine all bt")

# Expected in both runs.
info_pats=('^ +2 chan receive +gdb_parked_level2 at .*parked\.c:[0-9]+'
           '^ +3 chan receive +gdb_parked_level2'
           '^ +4 chan receive +gdb_parked_level2'
           '^ +5 sleep +gdb_sleeper at .*parked\.c:[0-9]+')
bt_pats=('^goroutine 2 \[chan receive\]:'
         '^#[0-9]+ +0x[0-9a-f]+ in gdb_parked_level2 \(\) at .*parked\.c:[0-9]+'
         '^#[0-9]+ +0x[0-9a-f]+ in gdb_parked_worker \(\) at .*parked\.c:[0-9]+'
         '^goroutine 5 \[sleep\]:')

# ---- 1. live process -------------------------------------------------
mkfifo "$tmp/in"
GORO_GDB_WAIT=1 "$tmp/parked" < "$tmp/in" > "$tmp/live.stdout" 2>&1 &
pid=$!
exec 7> "$tmp/in"     # keeps the program waiting until closed
for _ in $(seq 1 200); do grep -q parked "$tmp/live.stdout" && break; sleep 0.05; done
check "live: the program parked its goroutines" "$tmp/live.stdout" '^parked$'
timeout 120 gdb "${gdb_cmds[@]}" -p "$pid" > "$tmp/live.out" 2>&1
if grep -q "ptrace: Operation not permitted" "$tmp/live.out"; then
  echo "gdb tests: skipped (ptrace not permitted)"; exec 7>&-; exit 77
fi
check "live: info goroutines" "$tmp/live.out" "${info_pats[@]}" '^\* +1 syscall'
check "live: goroutine 2 bt" "$tmp/live.out" "${bt_pats[@]}"
check "live: goroutine 1 bt (in a blocking call, from its thread)" "$tmp/live.out" \
  '^goroutine 1 \[syscall\]:' 'in gdb_stop_here \(\) at .*parked\.c' 'in gdb_main \('
exec 7>&-
wait "$pid"; rc=$?
if [ "$rc" = 0 ]; then echo "ok - live: program continues after detach"; pass=$((pass + 1))
else echo "not ok - live: program exit status $rc after detach"; sed 's/^/#   /' "$tmp/live.stdout"; fail=$((fail + 1)); fi
pid=

# ---- 2. core file ----------------------------------------------------
pattern=$(cat /proc/sys/kernel/core_pattern 2>/dev/null || echo core)
core_ok=1
case "$pattern" in
  \|*|/*)
    if [ -w /proc/sys/kernel/core_pattern ]; then
      old_pattern=$pattern
      echo core > /proc/sys/kernel/core_pattern || core_ok=0
    else
      core_ok=0
    fi ;;
esac
if [ "$core_ok" = 1 ]; then
  (cd "$tmp" && ulimit -c unlimited && GORO_GDB_ABORT=1 exec ./parked > core.stdout 2>&1) 2>/dev/null
  core=$(ls "$tmp"/core* 2>/dev/null | grep -v stdout | head -1)
  check "core: the program parked its goroutines before aborting" "$tmp/core.stdout" '^parked$'
  if [ -n "$core" ]; then
    timeout 120 gdb "${gdb_cmds[@]}" "$tmp/parked" "$core" > "$tmp/core.out" 2>&1
    check "core: info goroutines" "$tmp/core.out" "${info_pats[@]}" '^\* +1 running'
    check "core: goroutine 2 bt" "$tmp/core.out" "${bt_pats[@]}"
    check "core: goroutine 1 bt (running, from its thread)" "$tmp/core.out" \
      '^goroutine 1 \[running\]:' 'abort' 'in gdb_main \('
  else
    echo "ok - core: # SKIP no core file written (core_pattern: $pattern)"
  fi
else
  echo "ok - core: # SKIP core_pattern is '$pattern' and cannot be changed"
fi

echo "gdb: $pass passed, $fail failed"
[ "$fail" = 0 ]
