//go:build linux

package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// keepAlive is one raw keep-alive client connection to the front end.
type keepAlive struct {
	c  net.Conn
	br *bufio.Reader
}

func (e *env) keepAlive(tb testing.TB) *keepAlive {
	tb.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	return &keepAlive{c: c, br: bufio.NewReader(c)}
}

func (k *keepAlive) send(tb testing.TB, reqs ...string) {
	tb.Helper()
	if _, err := io.WriteString(k.c, strings.Join(reqs, "")); err != nil {
		tb.Fatal(err)
	}
}

// read reads one response to a request with method.
func (k *keepAlive) read(tb testing.TB, method string) (*http.Response, string) {
	tb.Helper()
	res, err := http.ReadResponse(k.br, &http.Request{Method: method})
	if err != nil {
		tb.Fatal(err)
	}
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res, string(b)
}

// get sends a GET for path and reads its response.
func (k *keepAlive) get(tb testing.TB, path string) (*http.Response, string) {
	tb.Helper()
	k.send(tb, "GET "+path+" HTTP/1.1\r\nHost: x\r\n\r\n")
	return k.read(tb, http.MethodGet)
}

// parkedShapes is a front end in front of shapesBackend and a keep-alive
// connection that has made one request (the next is the reactor's once
// waitParked returns).
func parkedShapes(t *testing.T) (*env, *keepAlive) {
	t.Helper()
	e := newEnv(t, Config{})
	e.add(t, "a", shapesBackend(t).URL, 1)
	k := e.keepAlive(t)
	k.get(t, "/warm")
	return e, k
}

// reactorServed is how many requests the HTTP reactor has answered itself.
func (e *env) reactorServed(tb testing.TB) int64 {
	tb.Helper()
	hr := e.srv.hr.Load()
	if hr == nil {
		tb.Fatal("no HTTP reactor")
	}
	return hr.served.Load()
}

// shapesBackend answers /size/N with N bytes, /chunked/N with N bytes in
// chunks, /empty with 204, /early with a 103 before its 200, /split with a
// head and a body written 20 ms apart, /hop with hop-by-hop fields, and
// anything else with its path.
func shapesBackend(tb testing.TB) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		switch {
		case strings.HasPrefix(path, "/size/"):
			n, _ := strconv.Atoi(path[len("/size/"):])
			w.Header().Set("Content-Length", strconv.Itoa(n))
			_, _ = io.WriteString(w, strings.Repeat("s", n))
		case strings.HasPrefix(path, "/chunked/"):
			n, _ := strconv.Atoi(path[len("/chunked/"):])
			for range 3 {
				_, _ = io.WriteString(w, strings.Repeat("c", n/3))
				w.(http.Flusher).Flush()
			}
		case path == "/empty":
			w.WriteHeader(http.StatusNoContent)
		case path == "/early":
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(http.StatusEarlyHints)
			_, _ = io.WriteString(w, "after hints")
		case path == "/split":
			w.Header().Set("Content-Length", "10")
			_, _ = io.WriteString(w, "first")
			w.(http.Flusher).Flush()
			time.Sleep(20 * time.Millisecond)
			_, _ = io.WriteString(w, "-half")
		case path == "/garbage":
			c, bw, err := w.(http.Hijacker).Hijack()
			if err != nil {
				return
			}
			_, _ = bw.WriteString("NOT HTTP AT ALL\r\n\r\n")
			_ = bw.Flush()
			_ = c.Close()
		case path == "/hop":
			w.Header().Set("Connection", "X-Private")
			w.Header().Set("X-Private", "secret")
			w.Header().Set("Keep-Alive", "timeout=5")
			w.Header().Set("X-Public", "shown")
			_, _ = io.WriteString(w, "hop")
		default:
			w.Header().Set("X-Via-Seen", r.Header.Get("Via"))
			w.Header().Set("X-Forwarded-Seen", r.Header.Get("X-Forwarded-For"))
			_, _ = io.WriteString(w, path)
		}
	}))
	tb.Cleanup(s.Close)
	return s
}

// TestHTTPReactorServes sends requests of every response shape on one
// keep-alive connection: after the first, each goes through the HTTP
// reactor, which answers the plain ones itself (checked by its count: a
// body in two writes included) and hands the others (big, chunked,
// interim 1xx, Engine.IO, a loop) to a goroutine at the point where they
// turn out; every answer must be exact,
// and the connection serve on after each.
func TestHTTPReactorServes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	e.add(t, "a", shapesBackend(t).URL, 1)
	k := e.keepAlive(t)
	if res, body := k.get(t, "/first"); res.StatusCode != 200 || body != "/first" {
		t.Fatalf("first: %d %q", res.StatusCode, body)
	}
	e.waitParked(t)
	before := e.reactorServed(t)
	get := func(path string) (*http.Response, string) {
		e.waitParked(t)
		return k.get(t, path)
	}
	for round := range 3 {
		for _, n := range []int{0, 1, 13, 4000, 8000, 8192, 20000, 300000} {
			res, body := get(fmt.Sprintf("/size/%d", n))
			if res.StatusCode != 200 || body != strings.Repeat("s", n) {
				t.Fatalf("round %d /size/%d: %d, %d bytes", round, n, res.StatusCode, len(body))
			}
		}
		if res, body := get("/chunked/30000"); res.StatusCode != 200 || body != strings.Repeat("c", 30000) {
			t.Fatalf("chunked: %d, %d bytes", res.StatusCode, len(body))
		}
		if res, body := get("/empty"); res.StatusCode != 204 || body != "" {
			t.Fatalf("empty: %d %q", res.StatusCode, body)
		}
		if res, body := get("/early"); res.StatusCode != 200 || body != "after hints" {
			t.Fatalf("early: %d %q", res.StatusCode, body)
		}
		if res, body := get("/split"); res.StatusCode != 200 || body != "first-half" {
			t.Fatalf("split: %d %q", res.StatusCode, body)
		}
		res, body := get("/hop")
		if res.StatusCode != 200 || body != "hop" || res.Header.Get("X-Public") != "shown" ||
			res.Header.Get("X-Private") != "" || res.Header.Get("Keep-Alive") != "" {
			t.Fatalf("hop: %d %q %v", res.StatusCode, body, res.Header)
		}
		e.waitParked(t)
		k.send(t, "HEAD /size/50 HTTP/1.1\r\nHost: x\r\n\r\n")
		if res, body := k.read(t, http.MethodHead); res.StatusCode != 200 || body != "" || res.ContentLength != 50 {
			t.Fatalf("head: %d %q %d", res.StatusCode, body, res.ContentLength)
		}
		// Not for the reactor: an Engine.IO request, a loop.
		if res, body := get("/eio?EIO=4&transport=polling"); res.StatusCode != 200 || body != "/eio" {
			t.Fatalf("eio: %d %q", res.StatusCode, body)
		}
		e.waitParked(t)
		k.send(t, "GET /loop HTTP/1.1\r\nHost: x\r\nVia: 1.1 "+e.p.cfg.NodeID+"\r\n\r\n")
		if res, _ := k.read(t, http.MethodGet); res.StatusCode != http.StatusLoopDetected {
			t.Fatalf("loop: %d", res.StatusCode)
		}
		res, body = get("/plain")
		if res.StatusCode != 200 || body != "/plain" || !strings.Contains(res.Header.Get("X-Via-Seen"), e.p.cfg.NodeID) ||
			res.Header.Get("X-Forwarded-Seen") != "127.0.0.1" {
			t.Fatalf("plain: %d %q %v", res.StatusCode, body, res.Header)
		}
	}
	// Per round: 5 sizes within a buffer (head and body up to 8 KiB), 204,
	// /split (its body waited for), /hop, HEAD and /plain.
	if got := e.reactorServed(t) - before; got != 3*10 {
		t.Fatalf("the reactor answered %d requests itself, want %d", got, 3*10)
	}
}

// TestHTTPReactorBadBackend: a backend that answers a request the
// reactor sent with garbage gives the client 502, and the connection
// serves on. (Bad requests on a parked connection: TestFrontEndsAgree.)
func TestHTTPReactorBadBackend(t *testing.T) {
	t.Parallel()
	e, k := parkedShapes(t)
	e.waitParked(t)
	if res, body := k.get(t, "/garbage"); res.StatusCode != http.StatusBadGateway {
		t.Fatalf("garbage from the backend: %d %q", res.StatusCode, body)
	}
	if res, body := k.get(t, "/after"); res.StatusCode != 200 || body != "/after" {
		t.Fatalf("after: %d %q", res.StatusCode, body)
	}
}

// TestHTTPReactorPipelined sends many requests in one write, then more
// while answers are on their way: all are answered, in order.
func TestHTTPReactorPipelined(t *testing.T) {
	t.Parallel()
	e, k := parkedShapes(t)
	// 1,000 requests of about 100 bytes: the reactor's reads fill its
	// buffer, so the rest must be read without a new edge.
	var reqs []string
	for i := range 1000 {
		reqs = append(reqs, fmt.Sprintf("GET /p%d HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n", i, strings.Repeat("p", 60)))
	}
	e.waitParked(t)
	go func() {
		_, _ = io.WriteString(k.c, strings.Join(reqs[:500], ""))
		time.Sleep(5 * time.Millisecond)
		_, _ = io.WriteString(k.c, strings.Join(reqs[500:], ""))
	}()
	for i := range 1000 {
		res, body := k.read(t, http.MethodGet)
		if want := fmt.Sprintf("/p%d", i); res.StatusCode != 200 || body != want {
			t.Fatalf("response %d: %d %q, want %q", i, res.StatusCode, body, want)
		}
	}
}

// TestHTTPReactorFullRead: a request head exactly the size of the
// reactor's buffer fills it in one read, so nothing says whether more
// bytes wait in the socket; a pipelined request behind it is still served.
func TestHTTPReactorFullRead(t *testing.T) {
	t.Parallel()
	e, k := parkedShapes(t)
	head := "GET /big HTTP/1.1\r\nHost: x\r\nX-Pad: "
	tail := "\r\n\r\n"
	big := head + strings.Repeat("p", hInBufSize-len(head)-len(tail)) + tail
	e.waitParked(t)
	k.send(t, big+"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []string{"/big", "/next"} {
		if res, body := k.read(t, http.MethodGet); res.StatusCode != 200 || body != want {
			t.Fatalf("%d %q, want %q", res.StatusCode, body, want)
		}
	}
}

// TestHTTPReactorHalfClose: a client that sends its last request and
// half-closes at once gets the answer, then the connection closes (the
// EOF came with the request's edge, and no later edge would tell).
func TestHTTPReactorHalfClose(t *testing.T) {
	t.Parallel()
	e, k := parkedShapes(t)
	e.waitParked(t)
	k.send(t, "GET /last HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := k.c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	if res, body := k.read(t, http.MethodGet); res.StatusCode != 200 || body != "/last" {
		t.Fatalf("%d %q", res.StatusCode, body)
	}
	_ = k.c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := k.br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("after the answer: read %d, %v; want EOF", n, err)
	}
}

// TestHTTPReactorSlowClient pipelines more requests than the sockets hold
// without reading: the reactor's sends to the client come back partial or
// refused, a goroutine writes the rest, and nothing is lost.
func TestHTTPReactorSlowClient(t *testing.T) {
	t.Parallel()
	_, k := parkedShapes(t)
	const n = 600
	go func() {
		for range n {
			if _, err := io.WriteString(k.c, "GET /size/7000 HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
				return
			}
		}
	}()
	time.Sleep(300 * time.Millisecond) // let the socket buffers fill
	for i := range n {
		res, body := k.read(t, http.MethodGet)
		if res.StatusCode != 200 || len(body) != 7000 {
			t.Fatalf("response %d: %d, %d bytes", i, res.StatusCode, len(body))
		}
	}
}

// TestHTTPReactorStaleUpstream: a backend that closes each connection
// after its response, without saying so, leaves dead connections in the
// pool; the reactor's request on one dies before any response byte and is
// retried on a new connection, so the client never sees it.
func TestHTTPReactorStaleUpstream(t *testing.T) {
	t.Parallel()
	for _, reset := range []bool{false, true} {
		t.Run(map[bool]string{false: "close", true: "reset"}[reset], func(t *testing.T) {
			t.Parallel()
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, bw, err := w.(http.Hijacker).Hijack()
				if err != nil {
					return
				}
				_, _ = bw.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				_ = bw.Flush()
				if reset {
					// Reset at once: the proxy's next send on it fails.
					time.Sleep(10 * time.Millisecond)
					_ = c.(*net.TCPConn).SetLinger(0)
				}
				_ = c.Close()
			}))
			t.Cleanup(be.Close)
			e := newEnv(t, Config{})
			e.add(t, "a", be.URL, 1)
			k := e.keepAlive(t)
			for i := range 30 {
				if res, body := k.get(t, "/x"); res.StatusCode != 200 || body != "ok" {
					t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
				}
				if reset {
					time.Sleep(20 * time.Millisecond) // the reset is in
				}
			}
			if e.p.Stats().Retries == 0 {
				t.Fatal("no retry counted: the stale connections were never reused")
			}
		})
	}
}

// TestHTTPReactorHeaderTimeout: a request the reactor sent to a backend
// that does not answer gets 504 after ResponseHeaderTimeout, and the
// connection serves on.
func TestHTTPReactorHeaderTimeout(t *testing.T) {
	t.Parallel()
	beURL, arrived, _, _ := holdingBackend(t)
	e := newEnv(t, Config{ResponseHeaderTimeout: 300 * time.Millisecond})
	e.add(t, "a", beURL, 1)
	k := e.keepAlive(t)
	k.get(t, "/warm")
	k.send(t, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	wait(t, arrived, "the request at the backend")
	if res, _ := k.read(t, http.MethodGet); res.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("held request: %d, want 504", res.StatusCode)
	}
	if res, body := k.get(t, "/after"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("after: %d %q", res.StatusCode, body)
	}
}

// TestHTTPReactorClientGone: a client that leaves while the reactor waits
// for its response makes the backend's request cancelled (the upstream
// connection is closed), as on the goroutine path.
func TestHTTPReactorClientGone(t *testing.T) {
	t.Parallel()
	beURL, arrived, cancelled, _ := holdingBackend(t)
	e := newEnv(t, Config{})
	e.add(t, "a", beURL, 1)
	k := e.keepAlive(t)
	k.get(t, "/warm")
	e.waitParked(t)
	before := e.reactorServed(t)
	k.send(t, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	wait(t, arrived, "the request at the backend")
	_ = k.c.Close()
	testutil.Recv(t, cancelled, "the backend's request cancelled", 5*time.Second)
	if e.reactorServed(t) != before {
		t.Fatal("the reactor answered a request whose client left")
	}
	if res, body := e.get(t, "/next"); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("next: %d %q", res.StatusCode, body)
	}
}

// TestHTTPReactorIdleAndShutdown: a parked connection idle past
// IdleTimeout is closed; at Shutdown a request in flight in the reactor is
// answered, and the parked connections are closed.
func TestHTTPReactorIdleAndShutdown(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			arrived <- struct{}{}
			<-release
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
	})
	reg := backend.NewRegistry()
	p, err := New(Config{}, reg, balance.NewSmoothWRR(), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := NewServer(p, ServerConfig{IdleTimeout: 400 * time.Millisecond}, p)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(ln) }()
	defer func() { _ = srv.Close(); <-served }()
	e := &env{reg: reg, p: p, srv: srv, url: "http://" + ln.Addr().String()}
	e.add(t, "a", be.URL, 1)

	idle := e.keepAlive(t)
	idle.get(t, "/warm")
	if n, err := idle.br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("idle connection: read %d, %v; want it closed", n, err)
	}

	busy := e.keepAlive(t)
	busy.get(t, "/warm")
	parked := e.keepAlive(t)
	parked.get(t, "/warm")
	busy.send(t, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	wait(t, arrived, "the request at the backend")
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned with a request in flight: %v", err)
	default:
	}
	close(release)
	if res, body := busy.read(t, http.MethodGet); res.StatusCode != 200 || body != "ok" {
		t.Fatalf("request in flight at shutdown: %d %q", res.StatusCode, body)
	}
	if err := wait(t, done, "Shutdown"); err != nil {
		t.Fatal(err)
	}
	if n, err := parked.br.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("parked connection after shutdown: read %d, %v", n, err)
	}
}

// TestHTTPReactorTunnelDetached: a pooled backend connection the reactor
// used and registered, taken next for a WebSocket tunnel, leaves the
// reactor's epoll set: the tunnel's traffic must not wake the reactor.
func TestHTTPReactorTunnelDetached(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Upgrade") == "" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		wsEcho(w, r)
	}))
	t.Cleanup(func() { be.CloseClientConnections(); be.Close() })
	e := newEnv(t, Config{})
	e.add(t, "a", be.URL, 1)
	k := e.keepAlive(t)
	k.get(t, "/warm")
	e.waitParked(t)
	k.get(t, "/by-the-reactor") // registers the pooled connection
	hr := e.srv.hr.Load()
	hr.mu.Lock()
	registered := len(hr.ups)
	hr.mu.Unlock()
	if registered != 1 {
		t.Fatalf("%d upstream connections registered, want 1", registered)
	}
	c := e.dialWS(t, "/ws") // takes that connection from the pool
	for i := range 3 {
		msg := fmt.Sprint("m", i)
		if err := c.WriteMessage(ws.OpText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
			t.Fatalf("echo: %q %v", p, err)
		}
	}
	hr.mu.Lock()
	registered = len(hr.ups)
	hr.mu.Unlock()
	if registered != 0 {
		t.Fatalf("%d upstream connections still registered with a tunnel open, want 0", registered)
	}
}

// TestHTTPReactorOff: without io_uring no HTTP reactor starts, and
// keep-alive connections are served by their goroutines.
func TestHTTPReactorOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{DisableIOURing: true})
	e.add(t, "a", shapesBackend(t).URL, 1)
	k := e.keepAlive(t)
	for range 5 {
		if res, body := k.get(t, "/x"); res.StatusCode != 200 || body != "/x" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
	}
	if e.srv.hr.Load() != nil {
		t.Fatal("an HTTP reactor started with io_uring disabled")
	}
}
