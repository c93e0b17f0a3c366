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

# ---- section: one goroutine per connection, 10,000 connections ----
# The echo server (examples/echo_server.c) runs in its own process; two
# client processes (examples/echo_client.c) open 5,000 connections each
# (this machine allows 20,000 open files per process), do 20 round trips
# of 64 bytes on every connection and hold them open a few seconds.  Every
# second the server prints its open connections, echoes per second and
# resident memory.
section_echo() {
  heading "echo server: one goroutine per connection, 10,000 connections"
  if ! cmake --build "$BUILD" -j "$(nproc)" --target echo_server echo_client >"$OUT/echo-build.log" 2>&1; then
    tail -n 20 "$OUT/echo-build.log"
    return 1
  fi
  local srv="$BUILD/examples/echo_server" cli="$BUILD/examples/echo_client"
  local port addr spid i
  for i in 1 2 3 4 5; do
    port=$((20000 + RANDOM % 20000))
    addr="127.0.0.1:$port"
    "$srv" "$addr" 2>"$OUT/echo-server.log" &
    spid=$!
    sleep 0.3
    if kill -0 "$spid" 2>/dev/null && grep -q listening "$OUT/echo-server.log"; then break; fi
    wait "$spid" 2>/dev/null
    spid=""
  done
  if [ -z "$spid" ]; then
    note "echo server did not start"; cat "$OUT/echo-server.log"; return 1
  fi
  tail -n +1 -f "$OUT/echo-server.log" 2>/dev/null | while IFS= read -r l; do echo "  $l"; done &
  local tpid=$!
  local c1 c2 rc=0
  timeout 40 "$cli" -n 5000 -r 20 -s 64 -H 3 -j "$addr" >"$OUT/echo-client1.json" 2>"$OUT/echo-client1.log" &
  c1=$!
  timeout 40 "$cli" -n 5000 -r 20 -s 64 -H 3 -j "$addr" >"$OUT/echo-client2.json" 2>"$OUT/echo-client2.log" &
  c2=$!
  wait "$c1" || rc=1
  wait "$c2" || rc=1
  sleep 1.2 # one more report from the server
  kill "$tpid" 2>/dev/null
  kill "$spid" 2>/dev/null
  wait "$spid" 2>/dev/null
  wait "$tpid" 2>/dev/null
  if [ "$rc" != 0 ]; then
    note "an echo client failed:"; cat "$OUT/echo-client1.log" "$OUT/echo-client2.log"; return 1
  fi
  local peak
  peak=$(sed -nE 's/.*rss ([0-9.]+) MiB.*/\1/p' "$OUT/echo-server.log" | sort -g | tail -1)
  cat "$OUT/echo-client1.json" "$OUT/echo-client2.json" | awk -v peak="$peak" '
    { if (match($0, /"value":[0-9.eE+]+/)) r += substr($0, RSTART + 8, RLENGTH - 8)
      if (match($0, /"conns":[0-9]+/)) n += substr($0, RSTART + 8, RLENGTH - 8) }
    END {
      printf "\n%d concurrent connections, %.0f round trips/s in total (64 bytes each)\n", n, r
      if (peak != "") printf "server resident memory at peak: %.1f MiB (%.1f KiB per connection)\n", peak, peak * 1024 / (n ? n : 1)
    }'
}

# ---- sections run in this order; append new ones here ----
SECTIONS="build core echo"

t0=$(date +%s)
for s in $SECTIONS; do
  "section_$s" || { note "section $s failed"; exit 1; }
done
printf '\ndemo finished in %d s\n' $(($(date +%s) - t0))
