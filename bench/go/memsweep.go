// memsweep.go - Go memory per parked goroutine at N = 1e3 ... 1e6.
//
// The counterpart of bench/bench_memsweep.c: (VmRSS + VmPTE) added by N
// goroutines that have run and block forever in a channel receive, / N,
// each N in a fresh child process (this program re-executes itself).
// BENCH_QUICK=1 stops at 1e5.
package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"sync"
)

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

func runPoint(name string, n int) {
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
	fmt.Printf("{\"bench\":\"%s\",\"impl\":\"go\",\"metric\":\"bytes_per_g\",\"value\":%.6g}\n",
		name, float64(after-before)/float64(n))
	runtime.KeepAlive(block)
}

var points = []struct {
	name string
	n    int
}{
	{"parked_mem_1e3", 1000},
	{"parked_mem_1e4", 10000},
	{"parked_mem_1e5", 100000},
	{"parked_mem_1e6", 1000000},
}

func main() {
	quick := os.Getenv("BENCH_QUICK") != "" && os.Getenv("BENCH_QUICK") != "0"
	if len(os.Args) > 2 && os.Args[1] == "-child" {
		for _, p := range points {
			if p.name == os.Args[2] {
				runPoint(p.name, p.n)
				return
			}
		}
		os.Exit(2)
	}
	status := 0
	for _, p := range points {
		if len(os.Args) > 1 && os.Args[1] != p.name {
			continue
		}
		if len(os.Args) == 1 && quick && p.n > 100000 {
			continue
		}
		cmd := exec.Command(os.Args[0], "-child", p.name)
		cmd.Stdout = os.Stdout
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "memsweep: %s failed: %v\n", p.name, err)
			status = 1
		}
	}
	os.Exit(status)
}
