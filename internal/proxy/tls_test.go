package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// newTLSEnv is newEnvNamed with the front end serving TLS with cert:
// "fast" (our front end, with /fb/ handed to fallback) or "nethttp".
func newTLSEnv(tb testing.TB, front string, cert testutil.Cert, fallback http.Handler) *env {
	tb.Helper()
	return newTLSEnvALPN(tb, front, cert, fallback, "http/1.1")
}

// newTLSEnvALPN is newTLSEnv offering the ALPN protocols alpn; its client
// attempts HTTP/2.
func newTLSEnvALPN(tb testing.TB, front string, cert testutil.Cert, fallback http.Handler, alpn ...string) *env {
	tb.Helper()
	reg := backend.NewRegistry()
	p, err := New(Config{}, reg, balance.NewSmoothWRR(), testLogger())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = p.Close() }) // after the front end's cleanup below
	e := &env{reg: reg, p: p}
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		tb.Fatal(err)
	}
	scfg := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: alpn}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, MaxIdleConnsPerHost: 8, ForceAttemptHTTP2: true}
	e.c = &http.Client{Transport: tr, Timeout: 20 * time.Second}
	if front == "nethttp" {
		s := httptest.NewUnstartedServer(e.p)
		s.TLS = scfg
		s.StartTLS()
		e.front, e.url = s, s.URL
		tb.Cleanup(func() { tr.CloseIdleConnections(); s.CloseClientConnections(); s.Close() })
		return e
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/fb/") {
			fallback.ServeHTTP(w, r)
			return
		}
		e.p.ServeHTTP(w, r)
	})
	srv := NewServer(e.p, ServerConfig{FallbackPrefixes: []string{"/fb/"}, ReadHeaderTimeout: 2 * time.Second}, h)
	e.srv, e.url = srv, "https://"+ln.Addr().String()
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(tls.NewListener(ln, scfg)) }()
	tb.Cleanup(func() { tr.CloseIdleConnections(); _ = srv.Close(); <-served })
	return e
}

// TestTLSClients: clients served over TLS get X-Forwarded-Proto https on
// both paths of our front end and on net/http, WebSocket tunnels work over
// wss, and plain HTTP sent to the TLS port gets a 400 saying so.
func TestTLSClients(t *testing.T) {
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	bothFronts(t, func(t *testing.T) {
		front := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		fallback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "fallback tls="+strconv.FormatBool(r.TLS != nil))
		})
		e := newTLSEnv(t, front, cert, fallback)
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, "proto="+r.Header.Get("X-Forwarded-Proto"))
		}))
		t.Cleanup(be.Close)
		e.add(t, "b1", be.URL, 1)
		for range 3 { // a fresh connection, then kept-alive ones
			if res, body := e.get(t, "/x"); res.StatusCode != http.StatusOK || body != "proto=https" {
				t.Fatalf("GET over TLS = %d %q", res.StatusCode, body)
			}
		}
		// A client claiming https itself is not believed (not trusted), and
		// one claiming http over TLS is corrected.
		if _, body := e.get(t, "/x", "X-Forwarded-Proto", "http"); body != "proto=https" {
			t.Errorf("spoofed X-Forwarded-Proto: %q", body)
		}
		if front == "fast" {
			if _, body := e.get(t, "/fb/x"); body != "fallback tls=true" {
				t.Errorf("handed-off request: %q", body)
			}
		}

		// WebSocket over wss through the tunnel.
		e.reg.Remove("b1")
		wssEcho(t, e, cert, "one", strings.Repeat("b", 100<<10))

		// Plain HTTP to the TLS port.
		cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "https://"))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		_ = cc.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := io.WriteString(cc, "GET /x HTTP/1.1\r\nHost: a\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(cc), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS port = %d %q", res.StatusCode, body)
		}
		if front == "fast" {
			mustContain(t, string(body), "TLS only")
		}
	})
}

// TestTLSHandshakeBounded: a client that connects and never says hello is
// dropped after ReadHeaderTimeout.
func TestTLSHandshakeBounded(t *testing.T) {
	t.Parallel()
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	e := newTLSEnv(t, "fast", cert, http.NotFoundHandler())
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_ = cc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if n, err := cc.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("silent client: read %d, %v; want the connection closed", n, err)
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("silent client was not dropped")
	}
}

// TestHTTP2: a TLS listener offering h2 hands HTTP/2 clients to net/http,
// which proxies their requests to HTTP/1.1 backends: forwarded headers (Via
// naming 2.0), a streamed request body, a response flushed in lockstep,
// concurrent streams on one connection, the loop guard. WebSocket clients,
// which offer only HTTP/1.1, still get the fast path and the tunnel.
func TestHTTP2(t *testing.T) {
	t.Parallel()
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	e := newTLSEnvALPN(t, "fast", cert, http.NotFoundHandler(), "h2", "http/1.1")
	node := e.p.cfg.NodeID
	step := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			body, _ := io.ReadAll(r.Body)
			_, _ = io.WriteString(w, "proto="+r.Header.Get("X-Forwarded-Proto")+" via="+r.Header.Get("Via")+
				" te="+strings.Join(r.TransferEncoding, ",")+" body="+string(body))
		case "/stream":
			_, _ = io.WriteString(w, "first\n")
			w.(http.Flusher).Flush()
			<-step // the client has read "first": nothing waited for "second"
			_, _ = io.WriteString(w, "second\n")
		}
	}))
	t.Cleanup(be.Close)
	e.add(t, "b1", be.URL, 1)

	res, body := e.get(t, "/echo")
	if res.ProtoMajor != 2 || body != "proto=https via=2.0 "+node+" te= body=" {
		t.Fatalf("GET over h2: %s %d %q", res.Proto, res.StatusCode, body)
	}

	// A body of unknown length goes upstream chunked.
	pr, pw := io.Pipe()
	go func() {
		for _, part := range []string{"ab", "cd", "ef"} {
			_, _ = io.WriteString(pw, part)
		}
		_ = pw.Close()
	}()
	req, _ := http.NewRequest(http.MethodPost, e.url+"/echo", pr)
	res, body = e.do(t, req)
	if res.ProtoMajor != 2 || body != "proto=https via=2.0 "+node+" te=chunked body=abcdef" {
		t.Fatalf("streamed POST over h2: %s %d %q", res.Proto, res.StatusCode, body)
	}

	// Flushed responses stream.
	res, err := e.c.Get(e.url + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(res.Body)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line: %q, %v", line, err)
	}
	close(step)
	if rest, err := io.ReadAll(br); err != nil || string(rest) != "second\n" {
		t.Fatalf("rest: %q, %v", rest, err)
	}
	_ = res.Body.Close()

	// Concurrent streams, on the connection kept from above.
	errs := make(chan error, 20)
	for range 20 {
		go func() {
			res, err := e.c.Get(e.url + "/echo")
			if err != nil {
				errs <- err
				return
			}
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.ProtoMajor != 2 || !strings.HasPrefix(string(b), "proto=https") {
				err = fmt.Errorf("%s %d %q", res.Proto, res.StatusCode, b)
			}
			errs <- err
		}()
	}
	for range 20 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}

	// The loop guard reads an HTTP/2 request's Via too.
	if res, body := e.get(t, "/echo", "Via", "2.0 "+node); res.StatusCode != http.StatusLoopDetected {
		t.Fatalf("looped request over h2: %d %q", res.StatusCode, body)
	}

	if _, handed := e.srv.Stats(); handed != 1 {
		t.Fatalf("%d connections handed to net/http, want the one HTTP/2 connection", handed)
	}

	// WebSocket over wss: the client offers no ALPN protocol, so the
	// connection is not HTTP/2.
	e.reg.Remove("b1")
	wssEcho(t, e, cert, "over wss")
}

// wssEcho puts a WebSocket echo backend in e's pool and echoes msgs
// through the proxy over wss.
func wssEcho(t *testing.T, e *env, cert testutil.Cert, msgs ...string) {
	t.Helper()
	wsb := wsEchoBackend(t)
	e.add(t, "ws", wsb.URL, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wc, err := ws.Dial(ctx, "wss"+strings.TrimPrefix(e.url, "https")+"/ws", nil, ws.Config{TLS: &tls.Config{RootCAs: cert.Pool}})
	if err != nil {
		t.Fatal(err)
	}
	defer wc.Close()
	for _, m := range msgs {
		if err := wc.WriteMessage(ws.OpText, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := wc.ReadMessage(); err != nil || string(p) != m {
			t.Fatalf("echo over wss: %d bytes, %v", len(p), err)
		}
	}
}

// rearmSignal returns a channel that receives (without blocking the
// proxy, up to 16 pending) each time a goroutine gives a tunnel direction
// back to e's reactor.
func rearmSignal(e *env) <-chan struct{} {
	rearmed := make(chan struct{}, 16)
	e.p.testHookRearmed = func() {
		select {
		case rearmed <- struct{}{}:
		default:
		}
	}
	return rearmed
}

// expectRead reads len(want) bytes from r and fails unless they are want.
func expectRead(t *testing.T, r io.Reader, want string) {
	t.Helper()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(r, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
}

// heldConn is a client socket whose writes can be held and sent as one, so
// that several TLS records reach the proxy in one segment.
type heldConn struct {
	net.Conn
	mu      sync.Mutex
	holding bool
	buf     []byte
}

func (h *heldConn) hold() {
	h.mu.Lock()
	h.holding = true
	h.mu.Unlock()
}

func (h *heldConn) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.holding {
		h.buf = append(h.buf, p...)
		return len(p), nil
	}
	return h.Conn.Write(p)
}

func (h *heldConn) flush() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holding = false
	_, err := h.Conn.Write(h.buf)
	h.buf = nil
	return err
}

// TestTLSTunnelBufferedRecords: a TLS client whose records reach the proxy
// together gets every byte through, although the reactor polls the socket
// under TLS: first the upgrade request with bytes behind it (crypto/tls has
// them before the tunnel starts), then, once both directions went back to
// the reactor, two records in one segment.
func TestTLSTunnelBufferedRecords(t *testing.T) {
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	bothFronts(t, func(t *testing.T) {
		front := t.Name()[strings.LastIndex(t.Name(), "/")+1:]
		e := newTLSEnv(t, front, cert, http.NotFoundHandler())
		rearmed := rearmSignal(e)
		e.add(t, "echo", echoUpgradeBackend(t), 1)
		raw, err := net.Dial("tcp", strings.TrimPrefix(e.url, "https://"))
		if err != nil {
			t.Fatal(err)
		}
		hc := &heldConn{Conn: raw}
		tc := tls.Client(hc, &tls.Config{RootCAs: cert.Pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		defer tc.Close()
		_ = tc.SetDeadline(time.Now().Add(20 * time.Second))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		br := bufio.NewReader(tc)
		hc.hold()
		_, _ = io.WriteString(tc, "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.WriteString(tc, "first|")
		if err := hc.flush(); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
			t.Fatalf("upgrade: %v %v", res, err)
		}
		expectRead(t, br, "first|")
		for range 2 { // both directions, after hotWait without traffic
			wait(t, rearmed, "a direction back in the reactor")
		}
		hc.hold()
		_, _ = io.WriteString(tc, "second|")
		_, _ = io.WriteString(tc, "third|")
		if err := hc.flush(); err != nil {
			t.Fatal(err)
		}
		expectRead(t, br, "second|third|")
	})
}

// TestTLSBackendTunnelBufferedRecords: the same from an https backend, whose
// records reach the proxy together: the 101 with bytes behind it, then,
// once both directions went back to the reactor, two records in one
// segment.
func TestTLSBackendTunnelBufferedRecords(t *testing.T) {
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	pair, err := tls.LoadX509KeyPair(cert.CertFile, cert.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	url := rawBackend(t, func(c net.Conn) {
		hc := &heldConn{Conn: c}
		tc := tls.Server(hc, &tls.Config{Certificates: []tls.Certificate{pair}})
		br := bufio.NewReader(tc)
		if _, err := http.ReadRequest(br); err != nil {
			return
		}
		hc.hold()
		_, _ = io.WriteString(tc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.WriteString(tc, "hello|")
		if hc.flush() != nil {
			return
		}
		line := make([]byte, 3)
		for {
			if _, err := io.ReadFull(br, line); err != nil {
				return
			}
			hc.hold()
			_, _ = tc.Write(line)
			_, _ = io.WriteString(tc, "b|")
			if hc.flush() != nil {
				return
			}
		}
	})
	e := newEnv(t, Config{TLS: &tls.Config{RootCAs: cert.Pool}})
	rearmed := rearmSignal(e)
	e.add(t, "tls", "https"+strings.TrimPrefix(url, "http"), 1)
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_ = cc.SetDeadline(time.Now().Add(20 * time.Second))
	_, _ = io.WriteString(cc, "GET /up HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
	br := bufio.NewReader(cc)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	expectRead(t, br, "hello|")
	_, _ = io.WriteString(cc, "a1|")
	expectRead(t, br, "a1|b|")
	for range 2 { // both directions, after hotWait without traffic
		wait(t, rearmed, "a direction back in the reactor")
	}
	_, _ = io.WriteString(cc, "a2|")
	expectRead(t, br, "a2|b|")
}
