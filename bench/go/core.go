// core.go - Go counterparts of bench/bench_core.c: spawn, yield, parked memory.
//
// Each benchmark runs in a fresh child process (this program re-executes
// itself with the benchmark's name), as the goro version forks, so freed
// goroutines and stacks of one benchmark never flatter the next.
//
//	spawn           N times `go f()`, f calls wg.Done; main wg.Wait(); wall / N.
//	yield           GOMAXPROCS(1), two goroutines each call runtime.Gosched
//	                N times; ns per switch = wall / (2N).
//	parked_mem_1eK  (VmRSS + VmPTE) added by N goroutines that have run and
//	                block forever in a channel receive, divided by N.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

var quick = os.Getenv("BENCH_QUICK") != "" && os.Getenv("BENCH_QUICK") != "0"

func emit(bench, metric string, value float64) {
	fmt.Printf("{\"bench\":\"%s\",\"impl\":\"go\",\"metric\":\"%s\",\"value\":%.6g}\n", bench, metric, value)
}

// residentBytes returns VmRSS + VmPTE of this process.
func residentBytes() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	var kb int64
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var v int64
		line := sc.Text()
		if n, _ := fmt.Sscanf(line, "VmRSS: %d kB", &v); n == 1 {
			kb += v
		} else if n, _ := fmt.Sscanf(line, "VmPTE: %d kB", &v); n == 1 {
			kb += v
		}
	}
	return kb * 1024
}

func benchSpawn() {
	n := 1000000
	if quick {
		n = 100000
	}
	var wg sync.WaitGroup
	wg.Add(n)
	t0 := time.Now()
	for i := 0; i < n; i++ {
		go func() { wg.Done() }()
	}
	wg.Wait()
	emit("spawn", "ns_per_op", float64(time.Since(t0).Nanoseconds())/float64(n))
}

func benchYield() {
	n := 2000000
	if quick {
		n = 200000
	}
	prev := runtime.GOMAXPROCS(1)
	var wg sync.WaitGroup
	wg.Add(2)
	f := func() {
		for i := 0; i < n; i++ {
			runtime.Gosched()
		}
		wg.Done()
	}
	t0 := time.Now()
	go f()
	go f()
	wg.Wait()
	el := time.Since(t0)
	runtime.GOMAXPROCS(prev)
	emit("yield", "ns_per_op", float64(el.Nanoseconds())/float64(2*n))
}

func benchParkedMem(name string, n int) {
	runtime.GC()
	debug.FreeOSMemory()
	before := residentBytes()
	block := make(chan int)
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go func() {
			wg.Done()
			<-block
		}()
	}
	wg.Wait()
	for i := 0; i < 16; i++ {
		runtime.Gosched()
	}
	after := residentBytes()
	emit(name, "bytes_per_g", float64(after-before)/float64(n))
	runtime.KeepAlive(block)
}

type bench struct {
	name     string
	fullOnly bool
	run      func()
}

var benches = []bench{
	{"spawn", false, benchSpawn},
	{"yield", false, benchYield},
	{"parked_mem_1e5", false, func() { benchParkedMem("parked_mem_1e5", 100000) }},
	{"parked_mem_1e6", true, func() { benchParkedMem("parked_mem_1e6", 1000000) }},
}

func main() {
	if len(os.Args) > 1 {
		for _, b := range benches {
			if b.name == os.Args[1] {
				b.run()
				return
			}
		}
		fmt.Fprintf(os.Stderr, "core: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
	status := 0
	for _, b := range benches {
		if quick && b.fullOnly {
			continue
		}
		cmd := exec.Command(os.Args[0], b.name)
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "core: %s failed: %v\n", b.name, strings.TrimSpace(err.Error()))
			status = 1
		}
	}
	os.Exit(status)
}
