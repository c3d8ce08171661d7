package eio

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// echo answers every message with itself; it greets new sessions.
type echo struct{ closes chan string }

func (e echo) OnMessage(c *Conn, m Message)   { _ = c.Send(m) }
func (e echo) OnClose(c *Conn, reason string) { e.closes <- reason }

// TestNodeClientInterop drives the npm engine.io-client (a dependency of
// socket.io-client) against our server over each transport mode.
func TestNodeClientInterop(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"websocket", "polling", "upgrade"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			e := echo{closes: make(chan string, 1)}
			conns := make(chan *Conn, 1)
			srv := NewServer(Config{PingInterval: 200 * time.Millisecond, PingTimeout: 5 * time.Second}, nil, func(c *Conn) Handler {
				_ = c.Send(Message{Data: []byte("welcome")}, Message{Data: []byte{0xff, 0}, Binary: true})
				conns <- c
				return e
			})
			mux := http.NewServeMux()
			mux.Handle("/engine.io/{$}", srv)
			ts := httptest.NewServer(mux)
			t.Cleanup(func() { srv.Close(); ts.Close() })

			n := testutil.StartNode(t, "internal/sio/eio/testdata/interop.js", nil, ts.URL, mode)
			first := "open websocket"
			if mode != "websocket" {
				first = "open polling"
			}
			n.Expect(t, first, waitFor)
			want := []string{"text welcome", "binary ff00", "text hello", "binary 010203"}
			if mode == "upgrade" {
				want = append(want, "upgrade websocket", "text after-upgrade", "binary 0405")
			}
			expectAll(t, n, want...)
			c := recv(t, conns, "accept")
			if mode == "upgrade" && c.Transport() != "websocket" {
				t.Fatalf("server transport %q after upgrade", c.Transport())
			}
			// Heartbeats are answered: wait for a few round trips.
			waitPongs(t, c, 2)
			c.Close(ReasonForcedClose)
			n.Expect(t, "close ", waitFor)
			if r := recv(t, e.closes, "OnClose"); r != ReasonForcedClose {
				t.Fatalf("server close reason %q", r)
			}
		})
	}
}

// expectAll reads the script's lines until each of want has been seen, in
// any order (what was sent before an upgrade may arrive after the event).
func expectAll(tb testing.TB, n *testutil.Node, want ...string) {
	tb.Helper()
	missing := make(map[string]bool, len(want))
	for _, w := range want {
		missing[w] = true
	}
	timeout := time.After(waitFor)
	for len(missing) > 0 {
		select {
		case l, ok := <-n.Lines:
			if !ok {
				tb.Fatalf("node exited; still missing %v; stderr:\n%s", missing, n.Stderr())
			}
			delete(missing, l)
		case <-timeout:
			tb.Fatalf("timeout; still missing %v; stderr:\n%s", missing, n.Stderr())
		}
	}
}
