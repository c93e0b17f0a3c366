#!/usr/bin/env bash
# run-tests.sh - the full test matrix (`make test`, and CI through .ci/run).
#
# Stages, each in its own build directory under the source tree:
#   normal    build/           goro_tests at GORO_MAXPROCS=1 and =$(nproc)
#   asan      build-asan/      ASan+UBSan, both MAXPROCS, GORO_TEST_STRESS=0
#   tsan      build-tsan/      TSan, both MAXPROCS, GORO_TEST_STRESS=0
#   ucontext  build-ucontext/  the portable context switch, MAXPROCS=2
#   valgrind  build-valgrind/  a small subset under memcheck (if installed)
#   install   cmake --install into a temporary prefix, then build
#             tests/install/smoke.c with pkg-config and with find_package
#   gdb       tests/test_gdb.sh: the gdb extension, live and on a core file
#   readme    tools/check-readme.sh: every command and the example program
#             of README.md, as written
#
# Usage: tools/run-tests.sh [STAGE...]   (default: all; GORO_MATRIX also
# selects stages).  Environment: GORO_TEST_TIMEOUT_MULTIPLIER (multiplied
# into the per-stage factor), GORO_TEST_TIME_CAP_MS (default 90000: no test
# runs longer), GORO_TEST_JOBS (default 2), CC, and
# GORO_BUILD_PREFIX (default "build": directories build, build-asan, ...).
#
# Heavy tests scale down under the sanitizers and Valgrind
# (GORO_TEST_STRESS=0); time limits scale up.  Tests run two at a time
# (goro_tests -j 2): each test is its own process, so this is safe.  Every
# stage runs even if an earlier one failed; the summary at the end lists
# them all, and the exit status is non-zero if any failed.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
NPROC=$(nproc 2>/dev/null || echo 2)
TJOBS=${GORO_TEST_JOBS:-2}
BUILD_TYPE=RelWithDebInfo
BASE_MULT=${GORO_TEST_TIMEOUT_MULTIPLIER:-1}
# No single test may take more than this (a hung test would otherwise cost
# its full, multiplied limit in every stage).
export GORO_TEST_TIME_CAP_MS=${GORO_TEST_TIME_CAP_MS:-90000}
B=${GORO_BUILD_PREFIX:-build}
ALL_STAGES="normal asan tsan ucontext valgrind install gdb readme"
if [ $# -gt 0 ]; then STAGES="$*"; else STAGES=${GORO_MATRIX:-$ALL_STAGES}; fi

SUMMARY=()
FAILED=0
T_START=$(date +%s)

say() { printf '\n=== %s\n' "$*"; }
now() { date +%s; }
mult() { awk -v a="$BASE_MULT" -v b="$1" 'BEGIN { print a * b }'; }

record() { # record NAME STATUS SECONDS DETAIL
  local status=$2
  [ "$status" = ok ] || [ "$status" = skipped ] || FAILED=1
  SUMMARY+=("$(printf '%-28s %-8s %5ss  %s' "$1" "$2" "$3" "$4")")
}

# build DIR [cmake options...]: configure and build goro_tests.  Output goes
# to DIR/build.log and is shown only on failure.
build() {
  local dir=$1
  shift
  local t0 log=$ROOT/$dir/build.log
  mkdir -p "$ROOT/$dir"
  t0=$(now)
  say "build $dir ($*)"
  if cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=$BUILD_TYPE "$@" >"$log" 2>&1 &&
    cmake --build "$ROOT/$dir" -j "$NPROC" >>"$log" 2>&1; then
    grep -E 'warning:' "$log" | sort -u | head -20
    record "build $dir" ok $(($(now) - t0)) ""
    return 0
  fi
  tail -60 "$log"
  record "build $dir" FAILED $(($(now) - t0)) "see $log"
  return 1
}

# run_suite NAME DIR MAXPROCS TIMEOUT_MULT [VAR=value...] -- [goro_tests args...]
run_suite() {
  local name=$1 dir=$2 mp=$3 tm=$4
  shift 4
  local envs=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do
    envs+=("$1")
    shift
  done
  [ "${1:-}" = -- ] && shift
  local t0 out=$ROOT/$dir/tests/$name.out
  t0=$(now)
  say "$name: GORO_MAXPROCS=$mp ${envs[*]:-} goro_tests -j $TJOBS $*"
  # shellcheck disable=SC2086 # WRAP is a command prefix: split it
  env GORO_MAXPROCS="$mp" GORO_TEST_TIMEOUT_MULTIPLIER="$(mult "$tm")" "${envs[@]}" \
    ${WRAP:-} "$ROOT/$dir/tests/goro_tests" -j "$TJOBS" "$@" 2>&1 | tee "$out" |
    grep -v '^ok ' # passing tests: in $out; failures and their output: here
  local rc=${PIPESTATUS[0]}
  local line
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | tail -1)
  [ -n "$line" ] || line="no summary line (runner exit status $rc)"
  if [ "$rc" -eq 0 ]; then
    record "$name" ok $(($(now) - t0)) "$line"
  else
    record "$name" FAILED $(($(now) - t0)) "$line"
  fi
}

stage_normal() {
  build "$B" -DGORO_BUILD_BENCH=ON -DGORO_BUILD_EXAMPLES=ON || return
  run_suite "normal-p1" "$B" 1 1
  run_suite "normal-p$NPROC" "$B" "$NPROC" 1
}

stage_asan() {
  build "$B-asan" -DGORO_ASAN=ON -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF || return
  local e=(GORO_TEST_STRESS=0 "ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=0}"
    "UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}")
  run_suite "asan-p1" "$B-asan" 1 2 "${e[@]}"
  run_suite "asan-p$NPROC" "$B-asan" "$NPROC" 2 "${e[@]}"
}

stage_tsan() {
  build "$B-tsan" -DGORO_TSAN=ON -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF || return
  # TSan's shadow layout does not fit the wide mmap randomisation of recent
  # kernels: lower it if we may, otherwise turn randomisation off.
  local wrap=""
  local bits
  bits=$(cat /proc/sys/vm/mmap_rnd_bits 2>/dev/null || echo 0)
  if [ "$bits" -gt 28 ]; then
    if [ -w /proc/sys/vm/mmap_rnd_bits ] && sysctl -qw vm.mmap_rnd_bits=28 2>/dev/null; then
      echo "tsan: vm.mmap_rnd_bits lowered from $bits to 28"
    elif command -v setarch >/dev/null; then
      wrap="setarch $(uname -m) -R"
      echo "tsan: running under '$wrap'"
    fi
  fi
  local e=(GORO_TEST_STRESS=0 "TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1}")
  WRAP=$wrap run_suite "tsan-p1" "$B-tsan" 1 3 "${e[@]}"
  WRAP=$wrap run_suite "tsan-p$NPROC" "$B-tsan" "$NPROC" 3 "${e[@]}"
}

stage_ucontext() {
  build "$B-ucontext" -DGORO_UCONTEXT=ON -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF || return
  run_suite "ucontext-p2" "$B-ucontext" 2 2
}

# Memcheck is slow and serialises threads: a few representative tests,
# each run directly (--run, no fork) so Valgrind sees the test itself.
VALGRIND_TESTS=${GORO_VALGRIND_TESTS:-core_bad_arguments core_run_repeatedly core_custom_stack_size
core_lock_thread_keeps_thread core_spawn_from_many_goroutines core_maxprocs_at_run_time
core_yield_is_fair}

stage_valgrind() {
  if ! command -v valgrind >/dev/null; then
    record "valgrind" skipped 0 "valgrind not installed"
    return
  fi
  build "$B-valgrind" -DGORO_VALGRIND=ON -DGORO_BUILD_BENCH=OFF -DGORO_BUILD_EXAMPLES=OFF || return
  local bin=$ROOT/$B-valgrind/tests/goro_tests
  local t0 pass=0 fail=0 skip=0
  t0=$(now)
  say "valgrind memcheck: ${VALGRIND_TESTS//$'\n'/ }"
  for t in $VALGRIND_TESTS; do
    if ! "$bin" --list | grep -qx "$t"; then
      echo "valgrind: no test $t"
      fail=$((fail + 1))
      continue
    fi
    local log=$ROOT/$B-valgrind/tests/valgrind-$t.log t1
    t1=$(now)
    GORO_MAXPROCS=2 GORO_TEST_STRESS=0 timeout -k 10 600 valgrind --tool=memcheck --quiet \
      --error-exitcode=99 --track-origins=no --max-stackframe=4194304 --fair-sched=yes \
      --log-file="$log" "$bin" --run "$t" >/dev/null 2>>"$log"
    local rc=$?
    if [ $rc -eq 0 ]; then
      echo "ok - $t ($(($(now) - t1)) s)"
      pass=$((pass + 1))
    elif [ $rc -eq 77 ]; then
      echo "ok - $t # SKIP"
      skip=$((skip + 1))
    else
      echo "not ok - $t: status $rc"
      sed 's/^/#   /' "$log" | head -60
      fail=$((fail + 1))
    fi
  done
  local line="$pass passed, $fail failed"
  [ $skip -eq 0 ] || line="$line, $skip skipped"
  if [ $fail -eq 0 ]; then
    record "valgrind-p2" ok $(($(now) - t0)) "$line"
  else
    record "valgrind-p2" FAILED $(($(now) - t0)) "$line"
  fi
}

stage_install() {
  local t0 tmp
  t0=$(now)
  [ -f "$ROOT/$B/CMakeCache.txt" ] || build "$B" || return
  cmake --build "$ROOT/$B" -j "$NPROC" >/dev/null 2>&1
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/goro-install.XXXXXX")
  say "install smoke test in $tmp"
  local ok=1 detail=""
  if ! cmake --install "$ROOT/$B" --prefix "$tmp/prefix" >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    record "install" FAILED $(($(now) - t0)) "cmake --install failed (kept $tmp)"
    return
  fi
  # 1. pkg-config, as a Makefile user would.
  local pc libdir flags
  pc=$(find "$tmp/prefix" -name goro.pc | head -1)
  if [ -z "$pc" ]; then
    ok=0 detail="no goro.pc installed;"
  else
    libdir=$(dirname "$(dirname "$pc")")
    flags=$(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --cflags --libs goro)
    echo "pkg-config --cflags --libs goro: $flags"
    # shellcheck disable=SC2086
    if ${CC:-cc} -o "$tmp/smoke-pc" "$ROOT/tests/install/smoke.c" $flags &&
      LD_LIBRARY_PATH=$libdir timeout -s QUIT 60 "$tmp/smoke-pc"; then
      echo "pkg-config build: ok"
    else
      echo "pkg-config build: FAILED"
      ok=0 detail="pkg-config build or run failed;"
    fi
  fi
  # 2. find_package(goro) -> goro::goro, as a CMake user would.
  if cmake -S "$ROOT/tests/install" -B "$tmp/cmake-build" -DCMAKE_PREFIX_PATH="$tmp/prefix" \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$tmp/cmake.log" 2>&1 &&
    cmake --build "$tmp/cmake-build" >>"$tmp/cmake.log" 2>&1 &&
    timeout -s QUIT 60 "$tmp/cmake-build/smoke"; then
    echo "find_package build: ok"
  else
    tail -30 "$tmp/cmake.log"
    echo "find_package build: FAILED"
    ok=0 detail="$detail find_package(goro) build or run failed;"
  fi
  if [ $ok = 1 ]; then
    record "install" ok $(($(now) - t0)) "pkg-config and find_package(goro)"
    rm -rf "$tmp"
  else
    record "install" FAILED $(($(now) - t0)) "$detail (kept $tmp)"
  fi
}

stage_gdb() {
  local t0 rc
  t0=$(now)
  [ -f "$ROOT/$B/CMakeCache.txt" ] || build "$B" || return
  cmake --build "$ROOT/$B" -j "$NPROC" >/dev/null 2>&1
  say "gdb extension (tests/test_gdb.sh $B)"
  timeout 600 bash "$ROOT/tests/test_gdb.sh" "$ROOT/$B"
  rc=$?
  if [ $rc -eq 0 ]; then
    record "gdb" ok $(($(now) - t0)) "info goroutines / goroutine N bt, live and core"
  elif [ $rc -eq 77 ]; then
    record "gdb" skipped $(($(now) - t0)) "gdb or ptrace unavailable"
  else
    record "gdb" FAILED $(($(now) - t0)) "tests/test_gdb.sh exit $rc"
  fi
}

stage_readme() {
  local t0
  t0=$(now)
  say "README commands and example (tools/check-readme.sh)"
  if timeout 900 bash "$ROOT/tools/check-readme.sh"; then
    record "readme" ok $(($(now) - t0)) "tools/check-readme.sh"
  else
    record "readme" FAILED $(($(now) - t0)) "tools/check-readme.sh"
  fi
}

for s in $STAGES; do
  case " $ALL_STAGES " in
    *" $s "*) "stage_$s" ;;
    *)
      echo "run-tests.sh: unknown stage '$s' (stages: $ALL_STAGES)" >&2
      exit 2
      ;;
  esac
done

echo
echo "=== summary ($(($(now) - T_START)) s, $NPROC CPUs)"
printf '%s\n' "${SUMMARY[@]}"
if [ $FAILED -ne 0 ]; then echo "FAILED"; else echo "all stages passed"; fi
# The closing line, over every goro_tests run of the matrix.
printf '%s\n' "${SUMMARY[@]}" | awk '
  { if (match($0, /[0-9]+ passed/)) p += substr($0, RSTART, RLENGTH) + 0
    if (match($0, /[0-9]+ failed/)) f += substr($0, RSTART, RLENGTH) + 0
    if (match($0, /[0-9]+ skipped/)) k += substr($0, RSTART, RLENGTH) + 0
    if ($2 == "FAILED" && $0 !~ /[0-9]+ failed/) f += 1 }
  END { printf "matrix: %d passed, %d failed%s\n", p, f, (k ? sprintf(", %d skipped", k) : "") }'
[ $FAILED -eq 0 ]
