package sio

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// waitFor bounds every wait in these tests; nothing is timed, only bounded.
const waitFor = 10 * time.Second

func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testutil.Recv(tb, ch, what, waitFor)
}

func closed(tb testing.TB, ch <-chan struct{}, what string) {
	tb.Helper()
	t := time.NewTimer(waitFor)
	defer t.Stop()
	select {
	case <-ch:
	case <-t.C:
		tb.Fatalf("timeout waiting for %s", what)
	}
}

// testServer is a Server mounted at /socket.io/ on a loopback listener.
type testServer struct {
	*Server
	URL  string
	Addr string
	hs   *http.Server
	done chan struct{}
}

// startServer serves srv at addr ("127.0.0.1:0" for any port).
func startServer(tb testing.TB, srv *Server, addr string) *testServer {
	tb.Helper()
	var ln net.Listener
	var err error
	for range 50 { // a restarted server may find its port in TIME_WAIT briefly
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	ts := &testServer{Server: srv, URL: "http://" + ln.Addr().String(), Addr: ln.Addr().String(), done: make(chan struct{})}
	ts.hs = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(ts.done)
		_ = ts.hs.Serve(ln)
	}()
	tb.Cleanup(ts.Stop)
	return ts
}

// Stop closes the Socket.IO server then the HTTP server. Idempotent.
func (ts *testServer) Stop() {
	ts.Server.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = ts.hs.Shutdown(ctx)
	_ = ts.hs.Close()
	<-ts.done
}

// newTestClient returns a client closed at cleanup.
func newTestClient(tb testing.TB, url, transport string, cfg ClientConfig) *Client {
	tb.Helper()
	cfg.Polling = transport == eio.TransportPolling
	if transport == eio.TransportPolling {
		cfg.Transports = []string{eio.TransportPolling}
	}
	c := NewClient(url, cfg)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func argsString(m Message) string {
	b, _ := json.Marshal(m.Args)
	return string(b)
}

var transports = []string{eio.TransportWebSocket, eio.TransportPolling}

func forTransports(t *testing.T, fn func(t *testing.T, transport string)) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			fn(t, tr)
		})
	}
}

// check fails the test from any goroutine-safe context.
func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

var _ = httptest.NewServer
