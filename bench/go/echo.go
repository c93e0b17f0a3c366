// echo.go - Go counterpart of bench/bench_echo.c.
//
// echo_1000: a TCP echo server on 127.0.0.1 in its own process (this
// program re-executed with -server; one goroutine per connection, 64-byte
// reads echoed back) and a client process (this one) opening 1,000
// connections from 1,000 goroutines, each doing 100 round trips of 64 bytes
// (write 64, read 64) -- 20 with BENCH_QUICK=1.  Metrics: rtt_per_s (total
// round trips / wall time from the first dial to the last reply) and
// server_rss_bytes (the server's peak resident set, VmHWM).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

const conns = 1000

func server() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo server:", err)
		os.Exit(1)
	}
	fmt.Println(ln.Addr().String())
	for {
		c, err := ln.Accept()
		if err != nil {
			continue
		}
		go func(c net.Conn) {
			defer c.Close()
			buf := make([]byte, 64)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if _, werr := c.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}(c)
	}
}

func peakRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "VmHWM: %d kB", &kb); n == 1 {
			return kb * 1024
		}
	}
	return -1
}

func main() {
	if len(os.Args) > 1 && os.Args[1] == "-server" {
		server()
		return
	}
	if len(os.Args) > 1 && os.Args[1] != "echo_1000" {
		fmt.Fprintf(os.Stderr, "echo: unknown benchmark %s\n", os.Args[1])
		os.Exit(2)
	}
	rounds := 100
	if q := os.Getenv("BENCH_QUICK"); q != "" && q != "0" {
		rounds = 20
	}
	srv := exec.Command(os.Args[0], "-server")
	srv.Stderr = os.Stderr
	out, _ := srv.StdoutPipe()
	if err := srv.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "echo: cannot start server:", err)
		os.Exit(1)
	}
	defer srv.Process.Kill()
	addr, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		fmt.Fprintln(os.Stderr, "echo: server gave no address")
		os.Exit(1)
	}
	addr = strings.TrimSpace(addr)

	var wg sync.WaitGroup
	var failed int32
	var mu sync.Mutex
	wg.Add(conns)
	t0 := time.Now()
	for i := 0; i < conns; i++ {
		go func() {
			defer wg.Done()
			var c net.Conn
			var err error
			for try := 0; try < 50; try++ {
				if c, err = net.Dial("tcp", addr); err == nil {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err != nil {
				mu.Lock()
				failed++
				mu.Unlock()
				return
			}
			defer c.Close()
			msg := make([]byte, 64)
			reply := make([]byte, 64)
			for r := 0; r < rounds; r++ {
				if _, err := c.Write(msg); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					return
				}
				if _, err := io.ReadFull(c, reply); err != nil {
					mu.Lock()
					failed++
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0)
	rss := peakRSS(srv.Process.Pid)
	srv.Process.Kill()
	srv.Wait()
	if failed > 0 {
		fmt.Fprintf(os.Stderr, "echo: %d connections failed\n", failed)
		os.Exit(1)
	}
	emit := func(metric string, v float64) {
		fmt.Printf("{\"bench\":\"echo_1000\",\"impl\":\"go\",\"metric\":\"%s\",\"value\":%.6g}\n", metric, v)
	}
	emit("rtt_per_s", float64(conns*rounds)/el.Seconds())
	emit("server_rss_bytes", float64(rss))
}
