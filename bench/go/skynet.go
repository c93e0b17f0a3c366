// skynet.go - Go counterpart of bench/bench_skynet.c.
//
// The skynet benchmark as published (atemerev/skynet): 1,111,111 real
// goroutines in a tree of fan-out 10; each leaf sends its number, each inner
// node sums its ten children's values from its own unbuffered channel and
// sends the sum up.  No batching, no WaitGroups.  Metric: ms of wall time
// for the whole tree, at GOMAXPROCS = CPU count.  BENCH_QUICK=1 uses a tree
// of 111,111 goroutines.
package main

import (
	"fmt"
	"os"
	"time"
)

func skynet(c chan<- int64, num, size, div int64) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int64)
	for i := int64(0); i < div; i++ {
		sub := num + i*(size/div)
		go skynet(rc, sub, size/div, div)
	}
	var sum int64
	for i := int64(0); i < div; i++ {
		sum += <-rc
	}
	c <- sum
}

func main() {
	if len(os.Args) > 1 && os.Args[1] != "skynet" {
		fmt.Fprintf(os.Stderr, "skynet: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
	size := int64(1000000)
	if q := os.Getenv("BENCH_QUICK"); q != "" && q != "0" {
		size = 100000
	}
	c := make(chan int64)
	t0 := time.Now()
	go skynet(c, 0, size, 10)
	sum := <-c
	el := time.Since(t0)
	if want := size * (size - 1) / 2; sum != want {
		fmt.Fprintf(os.Stderr, "skynet: wrong sum %d, want %d\n", sum, want)
		os.Exit(1)
	}
	fmt.Printf("{\"bench\":\"skynet\",\"impl\":\"go\",\"metric\":\"ms\",\"value\":%.6g}\n",
		float64(el.Nanoseconds())/1e6)
}
