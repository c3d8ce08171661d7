package proxy

import (
	"bufio"
	"crypto/tls"
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
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
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

// upgradeHolder is a backend that answers every request with 101
// (Upgrade: websocket) and then holds the connection, with no goroutine of
// its own per connection. It returns the backend's URL.
func upgradeHolder(t *testing.T) string {
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
	return "http://" + ln.Addr().String()
}

// idleTunnels opens n idle tunnels through e with dial (plus one to warm
// up), waits until the proxy holds them and, for settle, until the
// goroutines they started are back to at most slack above the count before,
// and returns the footprint before and after.
func idleTunnels(t *testing.T, e *env, n, slack int, settle time.Duration, dial func() (net.Conn, error)) (before, after footprint) {
	var clients []net.Conn
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	open := func() {
		c, err := dial()
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		_, _ = io.WriteString(c, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil || res.StatusCode != 101 {
			t.Fatalf("upgrade %v %v", res, err)
		}
	}
	open() // warm up one tunnel so lazily created state is not counted
	for e.p.Tunnels() != 1 {
		runtime.Gosched()
	}
	if settle > 0 {
		time.Sleep(hotWait + hotWait/2) // its pumps go idle (a count to log, not asserted)
	}
	before = measure()
	for range n {
		open()
	}
	// The 101 reached each client; wait until the proxy registered every tunnel.
	for e.p.Tunnels() != n+1 {
		runtime.Gosched()
	}
	deadline := time.Now().Add(settle)
	for runtime.NumGoroutine() > before.goroutines+slack && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	return before, measure()
}

func logFootprint(t *testing.T, what string, n int, before, after footprint) {
	per := func(a, b uint64) string { return fmt.Sprintf("%.0f B", float64(int64(b)-int64(a))/float64(n)) }
	t.Logf("%d %s: per tunnel: goroutines %.2f, fds (proxy+clients+backend) %.2f, heap %s, stacks %s, RSS %.2f KiB (includes the in-process client and backend ends)",
		n, what, float64(after.goroutines-before.goroutines)/float64(n), float64(after.fds-before.fds)/float64(n),
		per(before.heap, after.heap), per(before.stack, after.stack), float64(after.rss-before.rss)/float64(n))
}

func tunnelCount(t *testing.T, def int) int {
	if v, err := strconv.Atoi(os.Getenv("PROXY_TUNNELS")); err == nil {
		return v
	}
	if testing.Short() {
		return 100
	}
	return def
}

// TestIdleTunnelFootprint opens many idle proxied WebSocket tunnels and
// logs what each costs the process: goroutines, descriptors, heap, stacks
// and RSS. The clients and the backend run in this process without
// goroutines of their own; each tunnel holds 4 descriptors in total, 2 of
// them the proxy's. Numbers only (no assertions on them); run without -race
// for meaningful memory figures.
func TestIdleTunnelFootprint(t *testing.T) {
	n := tunnelCount(t, 1000)
	e := newEnv(t, Config{})
	e.add(t, "a", upgradeHolder(t), 1)
	front := strings.TrimPrefix(e.url, "http://")
	before, after := idleTunnels(t, e, n, 0, 0, func() (net.Conn, error) { return net.Dial("tcp", front) })
	logFootprint(t, "idle tunnels", n, before, after)
}

// TestIdleTLSTunnelFootprint is TestIdleTunnelFootprint with the clients on
// TLS. The reactor polls a TLS client's socket too, so once the pumps that
// drain what crypto/tls read early have gone idle (hotWait) an idle TLS
// tunnel holds no goroutine and no copy buffer: that part is asserted.
func TestIdleTLSTunnelFootprint(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the tunnel reactor is Linux-only")
	}
	n := tunnelCount(t, 500)
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	e := newTLSEnv(t, "fast", cert, http.NotFoundHandler())
	e.add(t, "a", upgradeHolder(t), 1)
	front := strings.TrimPrefix(e.url, "https://")
	cfg := &tls.Config{RootCAs: cert.Pool}
	before, after := idleTunnels(t, e, n, n/20, 10*hotWait, func() (net.Conn, error) { return tls.Dial("tcp", front, cfg) })
	logFootprint(t, "idle TLS tunnels", n, before, after)
	if g := after.goroutines - before.goroutines; g > n/20 {
		t.Errorf("%d idle TLS tunnels hold %d goroutines, want none (at most %d still settling)", n, g, n/20)
	}
}
