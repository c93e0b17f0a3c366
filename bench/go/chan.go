// chan.go - Go counterparts of bench/bench_chan.c: channel benchmarks.
//
//	pingpong_1p, pingpong_2p  two goroutines bounce a value over two
//	                          unbuffered channels at GOMAXPROCS 1 / 2;
//	                          ns per round trip (ping + pong).
//	bufchan_1x1, bufchan_4x4  channel of capacity 1024, 1 producer/1
//	                          consumer and 4/4; ns per message (wall / total
//	                          messages).  GOMAXPROCS = CPU count.
//	select4                   one goroutine selects in a loop over 4
//	                          unbuffered channels, each fed by its own
//	                          sender; ns per completed select.  CPU count.
//
// Sizes: pingpong 1e6 round trips, bufchan 4e6 messages, select4 2e6
// selects (BENCH_QUICK=1: a tenth).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"time"
)

var quick = os.Getenv("BENCH_QUICK") != "" && os.Getenv("BENCH_QUICK") != "0"

func size(n int) int {
	if quick {
		return n / 10
	}
	return n
}

func emit(bench, metric string, value float64) {
	fmt.Printf("{\"bench\":\"%s\",\"impl\":\"go\",\"metric\":\"%s\",\"value\":%.6g}\n", bench, metric, value)
}

func pingpong(name string, procs int) {
	n := size(1000000)
	prev := runtime.GOMAXPROCS(procs)
	defer runtime.GOMAXPROCS(prev)
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
	}()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	el := time.Since(t0)
	close(ping)
	emit(name, "ns_per_op", float64(el.Nanoseconds())/float64(n))
}

func bufchan(name string, producers, consumers int) {
	n := size(4000000)
	runtime.GOMAXPROCS(runtime.NumCPU())
	c := make(chan int, 1024)
	var wg sync.WaitGroup
	t0 := time.Now()
	for p := 0; p < producers; p++ {
		wg.Add(1)
		go func() {
			for i := 0; i < n/producers; i++ {
				c <- i
			}
			wg.Done()
		}()
	}
	for q := 0; q < consumers; q++ {
		wg.Add(1)
		go func() {
			for i := 0; i < n/consumers; i++ {
				<-c
			}
			wg.Done()
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	emit(name, "ns_per_op", float64(el.Nanoseconds())/float64(n))
}

func select4() {
	n := size(2000000)
	runtime.GOMAXPROCS(runtime.NumCPU())
	var cs [4]chan int
	for i := range cs {
		cs[i] = make(chan int)
		go func(c chan int) {
			for i := 0; i < n/4; i++ {
				c <- i
			}
		}(cs[i])
	}
	t0 := time.Now()
	for i := 0; i < n/4*4; i++ {
		select {
		case <-cs[0]:
		case <-cs[1]:
		case <-cs[2]:
		case <-cs[3]:
		}
	}
	el := time.Since(t0)
	emit("select4", "ns_per_op", float64(el.Nanoseconds())/float64(n/4*4))
}

func main() {
	benches := []struct {
		name string
		run  func()
	}{
		{"pingpong_1p", func() { pingpong("pingpong_1p", 1) }},
		{"pingpong_2p", func() { pingpong("pingpong_2p", 2) }},
		{"bufchan_1x1", func() { bufchan("bufchan_1x1", 1, 1) }},
		{"bufchan_4x4", func() { bufchan("bufchan_4x4", 4, 4) }},
		{"select4", select4},
	}
	found := false
	for _, b := range benches {
		if len(os.Args) > 1 && os.Args[1] != b.name {
			continue
		}
		found = true
		b.run()
	}
	if !found {
		fmt.Fprintf(os.Stderr, "chan: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
}
