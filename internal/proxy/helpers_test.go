package proxy

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// env is a proxy in front of a registry, served on a loopback listener.
type env struct {
	reg   *backend.Registry
	p     *Proxy
	front *httptest.Server // nil for the fast front end
	srv   *Server          // the fast front end, nil for plain net/http
	url   string           // the front end's base URL
	c     *http.Client
}

// bothFronts runs fn behind our front end ("fast") and plain net/http
// ("nethttp"), in parallel.
func bothFronts(t *testing.T, fn func(t *testing.T)) {
	t.Parallel()
	for _, name := range []string{"fast", "nethttp"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t)
		})
	}
}

// tunnelFronts is bothFronts plus two variants of the fast front end's
// reactors: "noring", with the send ring off (one write(2) per direction,
// as on a kernel without io_uring), and "smallarena", whose staging buffer
// holds one read of 4 KiB and a byte: a batch stages one direction, whose
// read fills the buffer, and the rest take the plain path.
func tunnelFronts(t *testing.T, fn func(t *testing.T)) {
	t.Parallel()
	for _, name := range []string{"fast", "nethttp", "noring", "smallarena"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t)
		})
	}
}

func testLogger() *slog.Logger {
	if os.Getenv("PROXY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newEnv(tb testing.TB, cfg Config) *env {
	tb.Helper()
	return newEnvNamed(tb, cfg, tb.Name())
}

// newEnvNamed is newEnv with the front chosen by name ("/nethttp" suffix
// for plain net/http).
func newEnvNamed(tb testing.TB, cfg Config, name string) *env {
	tb.Helper()
	return newEnvLogged(tb, cfg, name, testLogger())
}

// newEnvLogged is newEnvNamed with the proxy logging to log.
func newEnvLogged(tb testing.TB, cfg Config, name string, log *slog.Logger) *env {
	tb.Helper()
	if strings.Contains(name+"/", "/noring/") {
		cfg.DisableIOURing = true
	}
	reg := backend.NewRegistry()
	p, err := New(cfg, reg, balance.NewSmoothWRR(), log)
	if err != nil {
		tb.Fatal(err)
	}
	if strings.Contains(name+"/", "/smallarena/") {
		p.testArena = minStageRead + 1
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, DisableCompression: true}
	e := &env{reg: reg, p: p, c: &http.Client{Transport: tr, Timeout: 20 * time.Second}}
	if strings.Contains(name+"/", "/nethttp/") {
		front := httptest.NewServer(p)
		e.front = front
		e.url = front.URL
		tb.Cleanup(func() {
			tr.CloseIdleConnections()
			front.CloseClientConnections()
			front.Close()
			_ = p.Close()
		})
		return e
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	e.srv = NewServer(p, ServerConfig{}, p)
	e.url = "http://" + ln.Addr().String()
	served := make(chan struct{})
	go func() { defer close(served); _ = e.srv.Serve(ln) }()
	tb.Cleanup(func() {
		tr.CloseIdleConnections()
		_ = e.srv.Close()
		<-served
		_ = p.Close()
	})
	return e
}

// add registers a backend for rawURL with weight w.
func (e *env) add(tb testing.TB, id, rawURL string, w int) *backend.Backend {
	tb.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		tb.Fatal(err)
	}
	b := &backend.Backend{ID: id, URL: u, Addr: u.Host, Weight: w, Since: time.Now()}
	e.reg.Add(b)
	return b
}

// get performs a GET through the proxy and returns status, body.
func (e *env) get(tb testing.TB, path string, hdr ...string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	return e.do(tb, req)
}

func (e *env) do(tb testing.TB, req *http.Request) (*http.Response, string) {
	tb.Helper()
	res, err := e.c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res, string(b)
}

// namedBackend answers every request with its name.
func namedBackend(tb testing.TB, name string) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, name)
	}))
	tb.Cleanup(s.Close)
	return s
}

// killable is a backend whose listener and connections can be closed at
// once, as if its process was killed.
type killable struct {
	ln    net.Listener
	srv   *http.Server
	mu    sync.Mutex
	conns map[net.Conn]struct{}
	dead  bool
	URL   string
	done  chan struct{}
}

func newKillable(tb testing.TB, h http.Handler) *killable {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	k := &killable{ln: ln, conns: map[net.Conn]struct{}{}, URL: "http://" + ln.Addr().String(), done: make(chan struct{})}
	k.srv = &http.Server{Handler: h, ConnState: func(c net.Conn, s http.ConnState) {
		k.mu.Lock()
		defer k.mu.Unlock()
		switch s {
		case http.StateNew:
			if k.dead {
				_ = c.Close()
				return
			}
			k.conns[c] = struct{}{}
		case http.StateClosed, http.StateHijacked:
			delete(k.conns, c)
		}
	}}
	go func() { defer close(k.done); _ = k.srv.Serve(ln) }()
	tb.Cleanup(k.kill)
	return k
}

func (k *killable) kill() {
	k.mu.Lock()
	if k.dead {
		k.mu.Unlock()
		return
	}
	k.dead = true
	_ = k.ln.Close()
	for c := range k.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // RST, like a killed process with unread data
		}
		_ = c.Close()
	}
	k.mu.Unlock()
	<-k.done
	_ = k.srv.Close()
}

// wait receives from ch or fails after a generous timeout.
func wait[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testutil.Recv(tb, ch, what, 10*time.Second)
}

func mustContain(tb testing.TB, s, sub string) {
	tb.Helper()
	if !strings.Contains(s, sub) {
		tb.Fatalf("%q does not contain %q", s, sub)
	}
}

// dialSend opens a raw connection to the proxy and writes req on it; the
// connection is closed at cleanup.
func (e *env) dialSend(tb testing.TB, req string) net.Conn {
	tb.Helper()
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = cc.Close() })
	if _, err := io.WriteString(cc, req); err != nil {
		tb.Fatal(err)
	}
	return cc
}

// dialWS opens a WebSocket to path through the proxy (closed when the
// test ends).
func (e *env) dialWS(tb testing.TB, path string) *ws.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+path, nil, ws.Config{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// waitParked waits until every connection of the front end is parked in
// the HTTP reactor (its goroutine has let it go), so that the next request
// on it is the reactor's.
func (e *env) waitParked(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.srv.mu.Lock()
		all := true
		for fc := range e.srv.conns {
			all = all && fc.hs.Load() == hsParked
		}
		e.srv.mu.Unlock()
		if all {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatal("connections not parked in the HTTP reactor")
		}
		time.Sleep(time.Millisecond)
	}
}
