package eio

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/ws"
)

// TestIdleMemory measures the server's resident memory per idle WebSocket
// session: the clients live in a child process (this test binary re-run as
// TestIdleMemoryClients), so only the server side is counted. It runs only
// with EIO_MEASURE_IDLE=<sessions> set; the result is logged.
func TestIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("EIO_MEASURE_IDLE"))
	if n <= 0 {
		t.Skip("set EIO_MEASURE_IDLE=<sessions> to measure")
	}
	rec := &countHandler{every: 1 << 62}
	srv := NewServer(Config{}, nil, func(c *Conn) Handler { return rec })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go func() { _ = hs.Serve(ln) }()
	defer func() { srv.Close(); _ = hs.Close() }()

	rss0, heap0, stack0 := memNow()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleMemoryClients$")
	cmd.Env = append(os.Environ(), "EIO_IDLE_ADDR="+ln.Addr().String(), "EIO_IDLE_N="+strconv.Itoa(n))
	stdin, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = stdin.Close(); _ = cmd.Wait() }()
	sc := bufio.NewScanner(out)
	for sc.Scan() && !strings.HasPrefix(sc.Text(), "ready") {
	}
	deadline := time.Now().Add(time.Minute)
	for srv.Len() < n && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // let handshake garbage settle before measuring
	rss1, heap1, stack1 := memNow()
	t.Logf("%d idle websocket sessions: RSS %.1f KiB/session, heap %.1f KiB, stacks %.1f KiB",
		srv.Len(), float64(rss1-rss0)/1024/float64(n), float64(heap1-heap0)/1024/float64(n), float64(stack1-stack0)/1024/float64(n))
}

// TestIdleMemoryClients is the child side of TestIdleMemory.
func TestIdleMemoryClients(t *testing.T) {
	addr, n := os.Getenv("EIO_IDLE_ADDR"), 0
	n, _ = strconv.Atoi(os.Getenv("EIO_IDLE_N"))
	if addr == "" {
		t.Skip("child process of TestIdleMemory")
	}
	conns := make([]*ws.Conn, 0, n)
	for range n {
		c, err := ws.Dial(context.Background(), "ws://"+addr+"/?EIO=4&transport=websocket", nil, ws.Config{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("ready")
	_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
	for _, c := range conns {
		_ = c.Close()
	}
}

func memNow() (rss, heap, stack uint64) {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b, _ := os.ReadFile("/proc/self/statm")
	f := strings.Fields(string(b))
	if len(f) > 1 {
		pages, _ := strconv.ParseUint(f[1], 10, 64)
		rss = pages * uint64(os.Getpagesize())
	}
	return rss, ms.HeapInuse, ms.StackInuse
}
