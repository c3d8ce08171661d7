package sio

import (
	"fmt"
	"os"
	"runtime"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestIdleWebSocketFootprint (SIO_FOOTPRINT=N to run) connects N idle npm
// clients over WebSocket and reports the server's heap and goroutine
// stacks per connection: a Go-side estimate of RSS per idle connection
// (the bench/ harness measures real RSS).
func TestIdleWebSocketFootprint(t *testing.T) {
	n := os.Getenv("SIO_FOOTPRINT")
	if n == "" {
		t.Skip("set SIO_FOOTPRINT=N")
	}
	ts, _, _ := echoServer(t, Config{})
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	goFile := t.TempDir() + "/go"
	node := testutil.StartNode(t, clientJS, []string{"N=" + n, "K=0", "GO_FILE=" + goFile}, ts.URL, "load")
	node.Expect(t, "connected", 60e9)
	runtime.GC()
	runtime.ReadMemStats(&after)
	var k int
	fmt.Sscan(n, &k)
	heap := float64(after.HeapInuse-before.HeapInuse) / float64(k)
	stack := float64(after.StackInuse-before.StackInuse) / float64(k)
	t.Logf("%d idle websocket sessions: heap %.0f B + stacks %.0f B = %.1f KiB per connection (%d goroutines)",
		k, heap, stack, (heap+stack)/1024, runtime.NumGoroutine())
	_ = os.WriteFile(goFile, nil, 0o600)
	node.Expect(t, "closed", 60e9)
}
