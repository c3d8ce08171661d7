package tracker

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

const (
	clientJS = "internal/tracker/testdata/client.js"
	waitFor  = 15 * time.Second
)

// env is one tracker on a loopback server, with its registry.
type env struct {
	tr  *Tracker
	reg *backend.Registry
	ts  *httptest.Server
}

// mount routes the paths internal/app mounts for the tracker (exact match).
func mount(tr *Tracker) http.Handler {
	p := tr.Path()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case p, p + "/", p + "/servers":
			tr.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// startTracker runs a Tracker (with Run) on a loopback server; run=false
// leaves the fan-out stopped (the test starts it).
func startTracker(tb testing.TB, cfg Config, reg *backend.Registry, run bool) *env {
	tb.Helper()
	if reg == nil {
		reg = backend.NewRegistry()
	}
	tr, err := New(cfg, reg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{tr: tr, reg: reg, ts: httptest.NewServer(mount(tr))}
	if run {
		e.run(tb)
	}
	tb.Cleanup(func() {
		tr.Close()
		e.ts.Close()
	})
	return e
}

// run starts the fan-out; it is stopped at cleanup (before Close).
func (e *env) run(tb testing.TB) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.tr.Run(ctx) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Errorf("Run: %v", err)
		}
	})
}

// mkBackend returns a backend on 127.0.0.1:port; public may be "".
func mkBackend(tb testing.TB, id string, port int, public string, meta string) *backend.Backend {
	tb.Helper()
	u, err := backend.ParseURL(fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		tb.Fatal(err)
	}
	b := &backend.Backend{ID: id, URL: u, Addr: u.Host, PublicURL: public, Since: time.Now()}
	if meta != "" {
		b.Meta = json.RawMessage(meta)
	}
	return b
}

// next returns the node script's next stdout line.
func next(tb testing.TB, n *testutil.Node) string {
	tb.Helper()
	select {
	case l, ok := <-n.Lines:
		if !ok {
			tb.Fatalf("node exited; stderr:\n%s", n.Stderr())
		}
		return l
	case <-time.After(waitFor):
		tb.Fatalf("no line from node within %v", waitFor)
	}
	return ""
}

func expectLine(tb testing.TB, n *testutil.Node, want string) {
	tb.Helper()
	if got := next(tb, n); got != want {
		tb.Fatalf("node said %q, want %q", got, want)
	}
}

// recv waits for a value on ch.
func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testutil.Recv(tb, ch, what, waitFor)
}

// goClient is our Go Socket.IO client on the tracker; every event it gets
// goes to events as "name json".
type goClient struct {
	c      *sio.Client
	events chan string
	gone   chan string
}

func dialGo(tb testing.TB, e *env, header http.Header) *goClient {
	tb.Helper()
	c := sio.NewClient(e.ts.URL, sio.ClientConfig{DialConfig: eio.DialConfig{Path: e.tr.Path(), Header: header}})
	g := &goClient{c: c, events: make(chan string, 256), gone: make(chan string, 4)}
	s := c.Socket("/", nil)
	for _, ev := range []string{EventServers, EventServerJoined, EventServerLeft} {
		s.On(ev, func(m sio.Message, _ sio.Ack) {
			var b strings.Builder
			b.WriteString(ev)
			for _, a := range m.Args {
				b.WriteByte(' ')
				b.Write(a)
			}
			g.events <- b.String()
		})
	}
	s.OnDisconnect(func(reason string, _ bool) { g.gone <- reason })
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return g
}

func (g *goClient) expect(tb testing.TB, want string) {
	tb.Helper()
	if got := recv(tb, g.events, want); got != want {
		tb.Fatalf("got %q, want %q", got, want)
	}
}

// handshake sends one polling handshake with origin (may be "") and
// returns the response (body read and closed).
func handshake(tb testing.TB, e *env, origin string, header map[string]string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, e.ts.URL+e.tr.Path()+"/?EIO=4&transport=polling", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return do(tb, req)
}

func do(tb testing.TB, req *http.Request) (*http.Response, string) {
	tb.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := res.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return res, b.String()
}

func host(tb testing.TB, raw string) string {
	tb.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return u.Host
}
