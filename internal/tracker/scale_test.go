package tracker

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// Scale measurement (issue 5, BENCHMARKS.md): N idle tracker clients (raw
// WebSockets speaking Engine.IO/Socket.IO, in a child process so that this
// process holds only the server) and the time one server_left takes to
// reach all of them. Not run by default:
//
//	SB_TRACKER_SCALE=9000 go test -run TestScale -count=1 -v ./internal/tracker
//
// It reports the server's RSS per connection (VmRSS after/before, GC'd)
// and the delay from reg.Remove to the last client's receipt (both
// processes read the same wall clock).

const (
	envScale       = "SB_TRACKER_SCALE"
	envScaleClient = "SB_TRACKER_SCALE_CLIENT" // set in the child: the server URL
)

func TestScale(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv(envScale))
	if n <= 0 || os.Getenv(envScaleClient) != "" {
		t.Skipf("set %s=N to measure N idle tracker clients", envScale)
	}
	reg := backend.NewRegistry()
	rounds := 3
	if r, _ := strconv.Atoi(os.Getenv("SB_TRACKER_SCALE_ROUNDS")); r > 0 {
		rounds = r
	}
	for i := range rounds {
		reg.Add(mkBackend(t, fmt.Sprintf("b%d", i), 4001+i, fmt.Sprintf("http://127.0.0.1:%d", 4001+i), `{"name":"node"}`))
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	tr, err := New(Config{MaxClients: n + 100, RatePerSecond: -1}, reg, logger)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mount(tr), ReadHeaderTimeout: 10 * time.Second}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() { defer close(ran); _ = tr.Run(ctx) }()
	defer func() {
		cancel()
		<-ran
		_ = srv.Close()
		tr.Close()
		<-served
	}()

	before := rss(t)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^TestScaleClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), envScaleClient+"=http://"+ln.Addr().String(), fmt.Sprintf("%s=%d", envScale, n))
	cmd.Stderr = os.Stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	lines := bufio.NewScanner(out)
	expect := func(prefix string) string {
		t.Helper()
		for lines.Scan() {
			if l := lines.Text(); strings.HasPrefix(l, prefix) {
				return l
			}
		}
		t.Fatalf("client process ended before %q", prefix)
		return ""
	}
	start := time.Now()
	expect("ready")
	t.Logf("%d clients connected in %v", n, time.Since(start).Round(time.Millisecond))
	if c := tr.Stats().Clients; c != n {
		t.Fatalf("tracker has %d clients, want %d", c, n)
	}
	after := rss(t)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("server RSS %.1f MiB -> %.1f MiB: %.2f KiB per idle client (heap in use %.1f MiB, stacks %.1f MiB, goroutines %d)",
		mib(before), mib(after), float64(after-before)/1024/float64(n), mib(ms.HeapInuse), mib(ms.StackInuse), runtime.NumGoroutine())

	var lats, cpus []time.Duration
	defer func() {
		if len(lats) == 0 {
			return
		}
		slices.Sort(lats)
		slices.Sort(cpus)
		t.Logf("server_left to all %d clients over %d rounds: min %v, median %v, max %v; server CPU median %v",
			n, len(lats), lats[0].Round(100*time.Microsecond), lats[len(lats)/2].Round(100*time.Microsecond),
			lats[len(lats)-1].Round(100*time.Microsecond), cpus[len(cpus)/2].Round(100*time.Microsecond))
	}()
	for round := range rounds {
		cpu0 := cpuTime()
		t0 := time.Now()
		id := fmt.Sprintf("b%d", round)
		reg.Remove(id)
		l := expect("left ")
		f := strings.Fields(l)
		last, _ := strconv.ParseInt(f[1], 10, 64)
		got, _ := strconv.Atoi(f[2])
		lat, cpu := time.Unix(0, last).Sub(t0), cpuTime()-cpu0
		lats, cpus = append(lats, lat), append(cpus, cpu)
		t.Logf("server_left %s reached %d/%d clients; last one after %v; server CPU %v",
			id, got, n, lat.Round(100*time.Microsecond), cpu.Round(100*time.Microsecond))
		_, _ = fmt.Fprintln(stdin, "next")
	}
	if s := tr.Stats(); s.SlowConsumers != 0 {
		t.Errorf("slow consumers: %d", s.SlowConsumers)
	}
}

// testWriter logs through t (the fan-out's "change sent" lines carry the
// time the Broadcast call took).
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("change sent")) {
		w.t.Log(strings.TrimSpace(string(p)))
	}
	return len(p), nil
}

// TestScaleClients is the child process of TestScale.
func TestScaleClients(t *testing.T) {
	base := os.Getenv(envScaleClient)
	n, _ := strconv.Atoi(os.Getenv(envScale))
	if base == "" || n <= 0 {
		t.Skip("child process of TestScale")
	}
	url := strings.Replace(base, "http://", "ws://", 1) + "/tracker/?EIO=4&transport=websocket"
	conns := make([]*ws.Conn, n)
	var left atomic.Int64
	var lastNanos atomic.Int64
	var wg sync.WaitGroup
	round := make(chan struct{}, 1)
	var mu sync.Mutex
	var roundLeft int

	dial := func(i int) error {
		c, err := ws.Dial(context.Background(), url, nil, ws.Config{})
		if err != nil {
			return err
		}
		conns[i] = c
		if _, p, err := c.ReadMessage(); err != nil || len(p) == 0 || p[0] != '0' {
			return fmt.Errorf("open: %q %v", p, err)
		}
		if err := c.WriteMessage(ws.OpText, []byte("40")); err != nil {
			return err
		}
		for got := 0; got < 2; { // CONNECT reply, then `servers`
			_, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if bytes.HasPrefix(p, []byte("40")) || bytes.HasPrefix(p, []byte(`42["servers"`)) {
				got++
			}
		}
		return nil
	}
	sem := make(chan struct{}, 64)
	errs := make(chan error, n)
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := dial(i); err != nil {
				errs <- fmt.Errorf("client %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var readers sync.WaitGroup
	for _, c := range conns {
		readers.Go(func() {
			for {
				_, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				switch {
				case len(p) == 1 && p[0] == '2':
					_ = c.WriteMessage(ws.OpText, []byte("3"))
				case bytes.HasPrefix(p, []byte(`42["server_left"`)):
					now := time.Now().UnixNano()
					for {
						old := lastNanos.Load()
						if now <= old || lastNanos.CompareAndSwap(old, now) {
							break
						}
					}
					left.Add(1)
					mu.Lock()
					roundLeft++
					if roundLeft == n {
						roundLeft = 0
						round <- struct{}{}
					}
					mu.Unlock()
				}
			}
		})
	}
	fmt.Println("ready")
	in := bufio.NewScanner(os.Stdin)
	rounds := 3
	if r, _ := strconv.Atoi(os.Getenv("SB_TRACKER_SCALE_ROUNDS")); r > 0 {
		rounds = r
	}
	for r := 0; r < rounds; r++ {
		select {
		case <-round:
		case <-time.After(30 * time.Second):
			t.Errorf("round %d: only %d server_left", r, left.Load())
		}
		fmt.Printf("left %d %d\n", lastNanos.Swap(0), n)
		if !in.Scan() {
			break
		}
	}
	for _, c := range conns {
		_ = c.Close()
	}
	readers.Wait()
}

// cpuTime returns this process's user+system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rss returns this process's resident set size after a GC, in bytes.
func rss(t *testing.T) int64 {
	t.Helper()
	runtime.GC()
	debug.FreeOSMemory()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb * 1024
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

func mib(b any) float64 {
	switch v := b.(type) {
	case int64:
		return float64(v) / (1 << 20)
	case uint64:
		return float64(v) / (1 << 20)
	}
	return 0
}
