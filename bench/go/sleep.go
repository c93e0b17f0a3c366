// sleep.go - Go counterpart of bench/bench_sleep.c.
//
// sleep_100k: 100,000 goroutines each sleep 10 ms, all started at once.
// Each goroutine notes its intended wake (time of the Sleep call + 10 ms)
// and its actual wake; lateness = actual - intended.  Metrics: wall_ms
// (start of spawning until every goroutine has woken), p50_late_us and
// p99_late_us.  GOMAXPROCS = CPU count.  Same size with BENCH_QUICK=1.
package main

import (
	"fmt"
	"os"
	"sort"
	"sync"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] != "sleep_100k" {
		fmt.Fprintf(os.Stderr, "sleep: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
	const n = 100000
	const d = 10 * time.Millisecond
	late := make([]int64, n)
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func(i int) {
			intended := time.Now().Add(d)
			time.Sleep(d)
			late[i] = time.Since(intended).Nanoseconds()
			wg.Done()
		}(i)
	}
	wg.Wait()
	wall := time.Since(t0)
	sort.Slice(late, func(a, b int) bool { return late[a] < late[b] })
	emit := func(metric string, v float64) {
		fmt.Printf("{\"bench\":\"sleep_100k\",\"impl\":\"go\",\"metric\":\"%s\",\"value\":%.6g}\n", metric, v)
	}
	emit("wall_ms", float64(wall.Nanoseconds())/1e6)
	emit("p50_late_us", float64(late[n/2])/1e3)
	emit("p99_late_us", float64(late[n*99/100])/1e3)
}
