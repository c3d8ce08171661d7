package eio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
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

// TestNodeServerInterop drives our client against the reference Node
// engine.io server (a dependency of socket.io).
func TestNodeServerInterop(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		cfg       DialConfig
		transport string
	}{
		{"websocket", DialConfig{}, "websocket"},
		{"polling", DialConfig{Polling: true, Config: Config{Transports: []string{"polling"}}}, "polling"},
		{"upgrade", DialConfig{Polling: true}, "websocket"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			n := testutil.StartNode(t, "internal/sio/eio/testdata/server.js", nil, "200", "5000")
			port := strings.TrimPrefix(n.Expect(t, "port ", waitFor), "port ")
			rec := newRecorder()
			cfg := tt.cfg
			cfg.Path = "/engine.io/"
			ctx, cancel := context.WithTimeout(t.Context(), waitFor)
			defer cancel()
			c, err := Dial(ctx, "http://127.0.0.1:"+port, cfg, rec)
			if err != nil {
				t.Fatal(err)
			}
			defer func() { c.Close(ReasonForcedClose); <-c.Done() }()
			if c.Transport() != tt.transport {
				t.Fatalf("transport %q, want %q", c.Transport(), tt.transport)
			}
			rec.wantMsg(t, "welcome", false)
			rec.wantMsg(t, "\xca\xfe", true)
			if err := c.Send(Message{Data: []byte("héllo")}, Message{Data: []byte{1, 2}, Binary: true}); err != nil {
				t.Fatal(err)
			}
			rec.wantMsg(t, "héllo", false)
			rec.wantMsg(t, "\x01\x02", true)
			if tt.name == "upgrade" {
				n.Expect(t, "upgrade websocket", waitFor)
			}
			// Survive a few heartbeats (pingInterval 200ms): pongs reach the
			// server while messages keep flowing.
			for i := range 3 {
				msg := []byte("tick" + strconv.Itoa(i))
				if err := c.Send(Message{Data: msg}); err != nil {
					t.Fatal(err)
				}
				rec.wantMsg(t, string(msg), false)
				n.Expect(t, "heartbeat", waitFor)
			}
			if err := c.Send(Message{Data: []byte("close-me")}); err != nil {
				t.Fatal(err)
			}
			rec.wantClose(t, ReasonTransportClose)
			n.Expect(t, "close ", waitFor)
		})
	}
}
