// mutex.go - Go counterpart of bench/bench_mutex.c.
//
// mutex_contended: 1000 goroutines share one sync.Mutex; each does 1000
// Lock/counter++/Unlock (100 with BENCH_QUICK=1).  Metric: ns per
// lock/unlock pair = wall / total pairs, at GOMAXPROCS = CPU count.
package main

import (
	"fmt"
	"os"
	"sync"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] != "mutex_contended" {
		fmt.Fprintf(os.Stderr, "mutex: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
	const workers = 1000
	per := 1000
	if q := os.Getenv("BENCH_QUICK"); q != "" && q != "0" {
		per = 100
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	counter := 0
	wg.Add(workers)
	t0 := time.Now()
	for w := 0; w < workers; w++ {
		go func() {
			for i := 0; i < per; i++ {
				mu.Lock()
				counter++
				mu.Unlock()
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	if counter != workers*per {
		fmt.Fprintf(os.Stderr, "mutex: lost updates: %d\n", counter)
		os.Exit(1)
	}
	fmt.Printf("{\"bench\":\"mutex_contended\",\"impl\":\"go\",\"metric\":\"ns_per_op\",\"value\":%.6g}\n",
		float64(el.Nanoseconds())/float64(workers*per))
}
