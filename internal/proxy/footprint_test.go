package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func countFDs() int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(ents)
}

func rssKiB() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			n, _ := strconv.Atoi(strings.Fields(l)[1])
			return n
		}
	}
	return -1
}

type footprint struct {
	goroutines, fds, rss int
	heap, stack          uint64
}

func measure() footprint {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return footprint{runtime.NumGoroutine(), countFDs(), rssKiB(), ms.HeapInuse, ms.StackInuse}
}

// TestIdleTunnelFootprint opens many idle proxied WebSocket tunnels and
// logs what each costs the process: goroutines, descriptors, heap, stacks
// and RSS. The clients and the backend run in this process without
// goroutines of their own; each tunnel holds 4 descriptors in total, 2 of
// them the proxy's. Numbers only (no assertions on them); run without -race
// for meaningful memory figures.
func TestIdleTunnelFootprint(t *testing.T) {
	n := 1000
	if v, err := strconv.Atoi(os.Getenv("PROXY_TUNNELS")); err == nil {
		n = v
	}
	if testing.Short() {
		n = 100
	}
	e := newEnv(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			br := bufio.NewReader(c)
			if _, err := http.ReadRequest(br); err != nil {
				_ = c.Close()
				continue
			}
			_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
		mu.Lock()
		for _, c := range held {
			_ = c.Close()
		}
		mu.Unlock()
	})
	e.add(t, "a", "http://"+ln.Addr().String(), 1)
	front := strings.TrimPrefix(e.url, "http://")
	// Warm up one tunnel so lazily created state is not counted.
	open := func() net.Conn {
		c, err := net.Dial("tcp", front)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("upgrade %v %v", res, err)
		}
		return c
	}
	clients := []net.Conn{open()}
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	before := measure()
	for range n {
		clients = append(clients, open())
	}
	// The 101 reached each client; wait until the proxy registered every tunnel.
	for e.p.Tunnels() != n+1 {
		runtime.Gosched()
	}
	after := measure()
	per := func(a, b uint64) string { return fmt.Sprintf("%.0f B", float64(int64(b)-int64(a))/float64(n)) }
	t.Logf("%d idle tunnels: per tunnel: goroutines %.2f, fds (proxy+clients+backend) %.2f, heap %s, stacks %s, RSS %.2f KiB (includes the in-process client and backend ends)",
		n, float64(after.goroutines-before.goroutines)/float64(n), float64(after.fds-before.fds)/float64(n),
		per(before.heap, after.heap), per(before.stack, after.stack), float64(after.rss-before.rss)/float64(n))
}
