#!/usr/bin/env bash
# tools/bench.sh - build and run every benchmark, goro against Go and threads.
#
#   tools/bench.sh [--quick] [--runs R] [--only NAME]     (make bench [QUICK=1])
#
# Builds the release tree ($BUILD, default build/), the Go counterparts
# (bench/go/<name>.go -> $BUILD/bench/go_<name>, skipped with a note when
# `go` is missing), then runs every program R times (5; 3 with --quick),
# interleaving implementations (goro, go, pthread, goro, go, ...) so that
# drift of a shared machine hits all alike.  Programs are paired by name:
# bench_<name> (goro), go_<name>, pthread_<name>.  A program that is not
# built yet is skipped with a note.  Every JSON line goes, tagged with
# "run", into $BUILD/bench/results.jsonl; tools/bench_report.py then prints
# the machine and the table of medians and draws $BUILD/bench/chart.png.
# --only NAME runs only the programs of that name (e.g. --only core).
# The memory sweep (memsweep) runs only in the first two runs: its results
# vary by well under 1% between runs and it is the slowest program.  The
# echo pair (echo) runs three times per run (goro, go, goro, go, goro, go):
# its round-trip rate moves far more between runs than any other figure
# on a shared machine (on the 2-vCPU VM, in one day: goro 92k-144k/s, Go
# 71k-112k/s, single-run goro/Go ratios 0.96-1.35), so its medians take
# three times the samples.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT="$BUILD/bench"
QUICK=0
RUNS=""
ONLY=""
PER_PROGRAM_TIMEOUT=${BENCH_TIMEOUT:-}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1 ;;
    --runs) RUNS=$2; shift ;;
    --only) ONLY=$2; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$RUNS" ] || { [ "$QUICK" = 1 ] && RUNS=3 || RUNS=5; }
[ -n "$PER_PROGRAM_TIMEOUT" ] || { [ "$QUICK" = 1 ] && PER_PROGRAM_TIMEOUT=60 || PER_PROGRAM_TIMEOUT=400; }

T_START=$(date +%s)
note() { echo "bench: $*" >&2; }

# ---- build ----
note "building goro benchmarks in $BUILD"
cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null || exit 1
cmake --build "$BUILD" -j "$(nproc)" >/dev/null 2>"$BUILD/bench-build.log" ||
  note "the build reported errors (see $BUILD/bench-build.log); running what was built"
mkdir -p "$OUT"

if command -v go >/dev/null 2>&1; then
  export GOCACHE="$BUILD/go/cache" GOPATH="$BUILD/go/path" GOPROXY=off GOFLAGS= GO111MODULE=auto
  mkdir -p "$GOCACHE" "$GOPATH"
  note "building Go counterparts with $(go version | awk '{print $3}')"
  for f in bench/go/*.go; do
    [ -e "$f" ] || continue
    name=$(basename "$f" .go)
    [ -z "$ONLY" ] || [ "$ONLY" = "$name" ] || continue
    go build -o "$OUT/go_$name" "$f" || note "go build of $f failed; skipping it"
  done
else
  note "go not found: Go counterparts skipped (install golang-go to compare)"
fi

# ---- the program list: name -> which implementations exist ----
names=$(
  for p in "$OUT"/bench_* "$OUT"/go_* "$OUT"/pthread_*; do
    [ -x "$p" ] && [ -f "$p" ] || continue
    b=$(basename "$p")
    case "$b" in *.*) continue ;; esac
    echo "${b#*_}"
  done | sort -u
)
[ -n "$ONLY" ] && names=$(printf '%s\n' $names | grep -x -- "$ONLY")
if [ -z "$names" ]; then
  note "no benchmark programs found in $OUT"
  exit 1
fi
for n in $names; do
  [ -x "$OUT/bench_$n" ] || note "bench_$n (goro) is not built yet: skipped"
done

# ---- run ----
RESULTS="$OUT/results.jsonl"
: >"$RESULTS"
ERRLOG="$OUT/stderr.log"
: >"$ERRLOG"
export BENCH_QUICK=$QUICK
[ "$QUICK" = 1 ] || unset BENCH_QUICK
failures=0
repeats_of() { case $1 in echo) echo 3 ;; *) echo 1 ;; esac; }
for k in $(seq 1 "$RUNS"); do
  note "run $k of $RUNS"
  for n in $names; do
    if [ "$n" = memsweep ] && [ "$k" -gt 2 ]; then continue; fi
    for rep in $(seq 1 "$(repeats_of "$n")"); do
      for impl in goro go pthread; do
        case $impl in goro) prog="$OUT/bench_$n" ;; go) prog="$OUT/go_$n" ;; pthread) prog="$OUT/pthread_$n" ;; esac
        [ -x "$prog" ] || continue
        t0=$(date +%s.%N)
        echo "=== run $k $(basename "$prog")" >>"$ERRLOG"
        timeout -k 5 "$PER_PROGRAM_TIMEOUT" "$prog" 2>>"$ERRLOG" |
          grep -E '^\{.*\}[[:space:]]*$' |
          sed -E "s/\}[[:space:]]*$/,\"run\":$k}/" >>"$RESULTS"
        rc=${PIPESTATUS[0]}
        t1=$(date +%s.%N)
        if [ "$rc" != 0 ]; then
          failures=$((failures + 1))
          note "$(basename "$prog") exited with status $rc (run $k; see $ERRLOG)"
        fi
        [ "$k" = 1 ] && [ "$rep" = 1 ] && note "  $(basename "$prog"): $(awk "BEGIN{printf \"%.1f\", $t1-$t0}") s"
      done
    done
  done
done
T_END=$(date +%s)

# ---- report ----
if command -v python3 >/dev/null 2>&1; then
  python3 "$ROOT/tools/bench_report.py" --dir "$OUT" --runs "$RUNS" --quick "$QUICK" \
    --seconds $((T_END - T_START))
else
  note "python3 not found: raw results are in $RESULTS"
fi
note "total $((T_END - T_START)) s, $failures program failure(s)"
exit 0
