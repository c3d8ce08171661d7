package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
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

// newTLSEnv is newEnvNamed with the front end serving TLS with cert:
// "fast" (our front end, with /fb/ handed to fallback) or "nethttp".
func newTLSEnv(tb testing.TB, front string, cert testutil.Cert, fallback http.Handler) *env {
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
	scfg := &tls.Config{Certificates: []tls.Certificate{pair}, NextProtos: []string{"http/1.1"}}
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, MaxIdleConnsPerHost: 8}
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
		wsb := wsEchoBackend(t)
		e.reg.Remove("b1")
		e.add(t, "ws", wsb.URL, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		wc, err := ws.Dial(ctx, "wss"+strings.TrimPrefix(e.url, "https")+"/ws", nil, ws.Config{TLS: &tls.Config{RootCAs: cert.Pool}})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []string{"one", strings.Repeat("b", 100<<10)} {
			if err := wc.WriteMessage(ws.OpText, []byte(m)); err != nil {
				t.Fatal(err)
			}
			if _, p, err := wc.ReadMessage(); err != nil || string(p) != m {
				t.Fatalf("echo over wss: %d bytes, %v", len(p), err)
			}
		}
		_ = wc.Close()

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
