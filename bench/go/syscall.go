// syscall.go - Go counterpart of bench/bench_syscall.c.
//
// syscall_handoff, at GOMAXPROCS=1: the main goroutine makes 8 goroutines
// runnable on its only processor, notes the time, and enters a 50 ms
// nanosleep system call (raw syscall, no cgo).  The runtime must hand the
// processor to another thread for the others to run.  Metric (us): how long
// the first waiting goroutine waited, median of 9 repetitions (3 with
// BENCH_QUICK=1).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] != "syscall_handoff" {
		fmt.Fprintf(os.Stderr, "syscall: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
	reps := 9
	if q := os.Getenv("BENCH_QUICK"); q != "" && q != "0" {
		reps = 3
	}
	runtime.GOMAXPROCS(1)
	const workers = 8
	waits := make([]float64, 0, reps)
	for r := 0; r < reps; r++ {
		var first int64 // unix ns of the first worker to run
		var wg sync.WaitGroup
		wg.Add(workers)
		for w := 0; w < workers; w++ {
			go func() {
				atomic.CompareAndSwapInt64(&first, 0, time.Now().UnixNano())
				wg.Done()
			}()
		}
		t0 := time.Now().UnixNano()
		ts := syscall.Timespec{Sec: 0, Nsec: 50 * 1000 * 1000}
		syscall.Syscall(syscall.SYS_NANOSLEEP, uintptr(unsafe.Pointer(&ts)), 0, 0)
		wg.Wait()
		waits = append(waits, float64(atomic.LoadInt64(&first)-t0)/1e3)
	}
	sort.Float64s(waits)
	fmt.Printf("{\"bench\":\"syscall_handoff\",\"impl\":\"go\",\"metric\":\"us\",\"value\":%.6g}\n",
		waits[len(waits)/2])
}
