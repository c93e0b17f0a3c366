#!/usr/bin/env bash
# tools/demo.sh - the `make demo` job: goroutines against threads (and Go), live.
#
# goro's claim is that goroutines beat OS threads on memory, on the cost of
# starting and ending one, and on the cost of a switch.  This script
# measures the three on this machine: examples/demo.c for goro and
# pthreads, and bench/go/core.go for Go when `go` is installed.  It prints a
# table with the ratios and finishes well within a minute.
#
# Structure: one function per section, run in order by the list at the
# bottom.  To add a section, write a section_<name> function and append its
# name to SECTIONS.  Sections share: ROOT, BUILD, OUT (result files),
# have_go, and the helpers note, heading, and median.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD="$ROOT/$BUILD" ;; esac
OUT="$BUILD/demo"
mkdir -p "$OUT"
have_go=0
command -v go >/dev/null 2>&1 && have_go=1

note() { echo "demo: $*" >&2; }
heading() { printf '\n== %s ==\n' "$*"; }
# median of the numbers on stdin
median() { sort -g | awk '{v[NR]=$1} END {if (NR) print v[int((NR+1)/2)]}'; }
# value of (bench, impl) from a file of JSON result lines
value_of() {
  grep -F "\"bench\":\"$2\"" "$1" | grep -F "\"impl\":\"$3\"" |
    sed -E 's/.*"value":([-0-9.eE+]+).*/\1/' | median
}

# ---- section: build ----
section_build() {
  heading "build"
  if ! { cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
    cmake --build "$BUILD" -j "$(nproc)" --target goro_demo; } >"$OUT/build.log" 2>&1; then
    tail -n 30 "$OUT/build.log"
    return 1
  fi
  echo "goro demo built in $BUILD/bench/goro_demo"
  if [ "$have_go" = 1 ]; then
    export GOCACHE="$BUILD/go/cache" GOPATH="$BUILD/go/path" GOPROXY=off GOFLAGS=
    mkdir -p "$GOCACHE" "$GOPATH"
    if go build -o "$BUILD/bench/go_core" "$ROOT/bench/go/core.go"; then
      echo "Go counterpart built with $(go version | awk '{print $3}')"
    else
      note "building the Go counterpart failed; Go column left out"
      have_go=0
    fi
  else
    echo "go is not installed: the Go column is left out"
  fi
}

# ---- section: goroutines vs threads (vs Go) ----
section_core() {
  heading "goroutines vs threads: memory, spawn, switch"
  local res="$OUT/core.jsonl"
  "$BUILD/bench/goro_demo" --json >"$res" || note "some goro/pthread measurements failed"
  if [ "$have_go" = 1 ]; then
    echo "measuring Go..." >&2
    for b in spawn yield spawn yield spawn yield parked_mem_1e5; do
      timeout 30 "$BUILD/bench/go_core" "$b" >>"$res" || note "Go $b failed"
    done
  fi
  local gm pm om gs ps os gy py oy
  gm=$(value_of "$res" parked_mem_1e5 goro); pm=$(value_of "$res" parked_mem_1e4 pthread)
  om=$(value_of "$res" parked_mem_1e5 go)
  gs=$(value_of "$res" spawn goro); ps=$(value_of "$res" spawn pthread); os=$(value_of "$res" spawn go)
  gy=$(value_of "$res" yield goro); py=$(value_of "$res" yield pthread); oy=$(value_of "$res" yield go)
  awk -v gm="$gm" -v pm="$pm" -v om="$om" -v gs="$gs" -v ps="$ps" -v os="$os" \
      -v gy="$gy" -v py="$py" -v oy="$oy" -v go="$have_go" '
    function mem(v) { return v == "" ? "-" : sprintf("%.1f KiB", v / 1024) }
    function tm(v) { return v == "" ? "-" : (v >= 1000 ? sprintf("%.1f us", v / 1000) : sprintf("%.0f ns", v)) }
    function rat(a, b) { return (a == "" || b == "" || b == 0) ? "-" : sprintf("%.3gx", a / b) }
    function row(label, g, p, o, f) {
      printf "%-22s %11s %11s %11s   %12s %10s\n", label, (f == "m" ? mem(g) : tm(g)),
        (f == "m" ? mem(p) : tm(p)), (go ? (f == "m" ? mem(o) : tm(o)) : "n/a"),
        rat(g, p), (go ? rat(g, o) : "n/a")
    }
    BEGIN {
      printf "%-22s %11s %11s %11s   %12s %10s\n", "", "goro", "pthread", "Go", "goro/pthread", "goro/Go"
      row("memory per parked", gm, pm, om, "m")
      row("spawn + exit", gs, ps, os, "t")
      row("switch (1 processor)", gy, py, oy, "t")
      print ""
      if (gm != "" && pm != "")
        printf "memory per parked: goro %s, pthread %s%s -> goro uses %.2fx the memory of a thread\n",
          mem(gm), mem(pm), (go && om != "" ? ", Go " mem(om) : ""), gm / pm
      if (gs != "" && ps != "")
        printf "spawn + exit:      goro %s, pthread %s%s -> %.0fx cheaper than a thread\n",
          tm(gs), tm(ps), (go && os != "" ? ", Go " tm(os) : ""), ps / gs
      if (gy != "" && py != "")
        printf "switch:            goro %s, pthread %s%s -> %.0fx cheaper than a thread switch\n",
          tm(gy), tm(py), (go && oy != "" ? ", Go " tm(oy) : ""), py / gy
    }'
  echo
  echo "goroutines: 100,000 parked in a channel receive, 1,000,000 spawned, 2 x 2,000,000 yields"
  echo "threads:    10,000 parked on a condvar (8 MiB default stacks), 10,000 create+join,"
  echo "            2 x 100,000 futex hand-offs pinned to one CPU; memory = VmRSS + VmPTE"
  echo "            (a thread's kernel stack and task struct are not counted)"
  echo "timings are medians of 3; the machine may be shared, see 'make bench' for the full suite"
}

# ---- sections run in this order; append new ones here ----
SECTIONS="build core"

t0=$(date +%s)
for s in $SECTIONS; do
  "section_$s" || { note "section $s failed"; exit 1; }
done
printf '\ndemo finished in %d s\n' $(($(date +%s) - t0))
