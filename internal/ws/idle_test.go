package ws

import (
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestIdleFootprint measures (and logs, without asserting) the Go heap and
// goroutine stack held per idle accepted connection: 1,000 Node `ws`
// clients connect, each server Conn sits in ReadMessage on its own
// goroutine, and the handler has returned. The clients live in the Node
// process, so the numbers are the server side only (the kernel's socket
// buffers are not counted).
//
// "handoff" reads on a fresh goroutine and returns from the handler (the
// recommended pattern); "in-handler" keeps reading inside the HTTP handler,
// which also keeps net/http's per-connection state and deeper stack alive.
func TestIdleFootprint(t *testing.T) {
	if testing.Short() {
		t.Skip("opens 1,000 connections")
	}
	for _, handoff := range []bool{true, false} {
		name := "handoff"
		if !handoff {
			name = "in-handler"
		}
		t.Run(name, func(t *testing.T) { measureIdle(t, handoff) })
	}
}

func measureIdle(t *testing.T, handoff bool) {
	const conns = 1000
	var wg sync.WaitGroup
	var mu sync.Mutex
	var open []*Conn // guarded by mu
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, Config{})
		if err != nil {
			return
		}
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
		read := func() {
			defer c.Close()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		}
		if handoff {
			wg.Go(read)
		} else {
			read()
		}
	}))
	defer srv.Close()
	defer wg.Wait()
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range open {
			_ = c.Close()
		}
	}()

	before := memSnapshot()
	n := testutil.StartNode(t, "internal/ws/testdata/ws_many.js", nil,
		"ws"+strings.TrimPrefix(srv.URL, "http")+"/", strconv.Itoa(conns))
	n.Expect(t, "OPEN ", nodeWait*4)
	after := memSnapshot()
	mu.Lock()
	got := len(open)
	mu.Unlock()
	if got != conns {
		t.Fatalf("%d conns accepted", got)
	}
	heap := (int64(after.HeapAlloc) - int64(before.HeapAlloc)) / conns
	stack := (int64(after.StackInuse) - int64(before.StackInuse)) / conns
	t.Logf("idle accepted conn: heap %d B, goroutine stack %d B, total %d B per conn (race detector: %v; sizeof Conn struct: %d B)",
		heap, stack, heap+stack, raceEnabled, sizeofConn)
}

// memSnapshot returns memory statistics after two collections (the second
// also empties sync.Pools such as net/http's bufio pools).
func memSnapshot() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}
