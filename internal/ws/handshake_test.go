package ws

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestAcceptKey(t *testing.T) {
	// The example of RFC 6455 §1.3.
	if got := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("acceptKey = %q", got)
	}
}

func TestBadHandshakes(t *testing.T) {
	good := func() http.Header {
		return http.Header{
			"Connection":            {"keep-alive, Upgrade"},
			"Upgrade":               {"websocket"},
			"Sec-Websocket-Version": {"13"},
			"Sec-Websocket-Key":     {"dGhlIHNhbXBsZSBub25jZQ=="},
			"Origin":                {"http://good.example"},
		}
	}
	for _, tc := range []struct {
		name    string
		method  string
		edit    func(h http.Header)
		status  int
		version bool // expect Sec-WebSocket-Version: 13 in the answer
	}{
		{name: "post", method: http.MethodPost, status: http.StatusMethodNotAllowed},
		{name: "no connection", edit: func(h http.Header) { h.Del("Connection") }, status: http.StatusBadRequest},
		{name: "connection without upgrade", edit: func(h http.Header) { h.Set("Connection", "keep-alive") }, status: http.StatusBadRequest},
		{name: "no upgrade", edit: func(h http.Header) { h.Del("Upgrade") }, status: http.StatusBadRequest},
		{name: "upgrade h2c", edit: func(h http.Header) { h.Set("Upgrade", "h2c") }, status: http.StatusBadRequest},
		{name: "version 8", edit: func(h http.Header) { h.Set("Sec-Websocket-Version", "8") }, status: http.StatusUpgradeRequired, version: true},
		{name: "no version", edit: func(h http.Header) { h.Del("Sec-Websocket-Version") }, status: http.StatusUpgradeRequired, version: true},
		{name: "no key", edit: func(h http.Header) { h.Del("Sec-Websocket-Key") }, status: http.StatusBadRequest},
		{name: "short key", edit: func(h http.Header) { h.Set("Sec-Websocket-Key", "c2hvcnQ=") }, status: http.StatusBadRequest},
		{name: "non-base64 key", edit: func(h http.Header) { h.Set("Sec-Websocket-Key", "!!!!!!!!!!!!!!!!!!!!!!==") }, status: http.StatusBadRequest},
		{name: "17-byte key", edit: func(h http.Header) { h.Set("Sec-Websocket-Key", "AAAAAAAAAAAAAAAAAAAAAAA=") }, status: http.StatusBadRequest},
		{name: "bad origin", edit: func(h http.Header) { h.Set("Origin", "http://evil.example") }, status: http.StatusForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") == "http://good.example" }}
			url, errs := startServer(t, cfg, echo)
			h := good()
			if tc.edit != nil {
				tc.edit(h)
			}
			method := tc.method
			if method == "" {
				method = http.MethodGet
			}
			resp := rawRequest(t, strings.TrimPrefix(url, "ws://"), method, h)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("Sec-WebSocket-Version"); tc.version && got != "13" {
				t.Fatalf("Sec-WebSocket-Version %q", got)
			}
			if err := recv(t, errs); !errors.Is(err, ErrBadHandshake) {
				t.Fatalf("Accept err %v", err)
			}
		})
	}
}

// rawRequest sends one HTTP/1.1 request with exactly header h and reads the answer.
func rawRequest(tb testing.TB, addr, method string, h http.Header) *http.Response {
	tb.Helper()
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	var b strings.Builder
	b.WriteString(method + " / HTTP/1.1\r\nHost: " + addr + "\r\nContent-Length: 0\r\n")
	_ = h.Write(&b)
	b.WriteString("\r\n")
	if _, err := io.WriteString(nc, b.String()); err != nil {
		tb.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		tb.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp
}

func TestIsUpgrade(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if IsUpgrade(r) {
		t.Fatal("plain GET is not an upgrade")
	}
	r.Header.Set("Connection", "keep-alive, UPGRADE")
	r.Header.Set("Upgrade", "WebSocket")
	if !IsUpgrade(r) {
		t.Fatal("want upgrade")
	}
	r.Method = http.MethodPost
	if IsUpgrade(r) {
		t.Fatal("POST is not an upgrade")
	}
}

func TestSubprotocolEchoed(t *testing.T) {
	url, _ := startServer(t, Config{}, echo)
	h := http.Header{
		"Connection": {"Upgrade"}, "Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"},
		"Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}, "Sec-Websocket-Protocol": {"chat, superchat"},
		"Sec-Websocket-Extensions": {"permessage-deflate; client_max_window_bits"},
	}
	resp := rawRequest(t, strings.TrimPrefix(url, "ws://"), http.MethodGet, h)
	if resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Protocol"); got != "chat" {
		t.Fatalf("protocol %q", got)
	}
	if got := resp.Header.Get("Sec-WebSocket-Extensions"); got != "" {
		t.Fatalf("extensions must be declined, got %q", got)
	}
}

func TestDialHeadersAndQuery(t *testing.T) {
	got := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r
		c, err := Accept(w, r, Config{})
		if err != nil {
			return
		}
		defer c.Close()
		_ = echo(c)
	}))
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, srv.URL+"/socket.io/?EIO=4&transport=websocket", http.Header{"X-Token": {"abc"}}, Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := recv(t, got)
	if r.URL.Path != "/socket.io/" || r.URL.Query().Get("EIO") != "4" || r.Header.Get("X-Token") != "abc" {
		t.Fatalf("request %s %v", r.URL, r.Header)
	}
	if err := c.WriteMessage(OpText, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hi" {
		t.Fatalf("%q %v", p, err)
	}
}

func TestDialTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, Config{})
		if err != nil {
			return
		}
		defer c.Close()
		_ = echo(c)
	}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // expected handshake failures
	srv.StartTLS()
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	// The default TLS config does not trust httptest's certificate.
	_, err := Dial(ctx, "wss"+strings.TrimPrefix(srv.URL, "https"), nil, Config{})
	if err == nil || !strings.Contains(err.Error(), "tls") {
		t.Fatalf("want TLS verification error, got %v", err)
	}
}

// fakeServer answers the first request on a raw listener with resp(key).
func fakeServer(tb testing.TB, resp func(key string) string) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		nc, err := ln.Accept()
		if err != nil {
			return
		}
		defer nc.Close()
		_ = nc.SetDeadline(time.Now().Add(testTimeout))
		br := bufio.NewReader(nc)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if out := resp(req.Header.Get("Sec-WebSocket-Key")); out != "" {
			_, _ = io.WriteString(nc, out)
		}
		_, _ = io.Copy(io.Discard, br) // until the client hangs up
	}()
	tb.Cleanup(func() { _ = ln.Close(); <-done })
	return "ws://" + ln.Addr().String() + "/"
}

func TestDialBadResponses(t *testing.T) {
	ok := func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	}
	for _, tc := range []struct {
		name string
		resp func(key string) string
	}{
		{"status 200", func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n" }},
		{"status 403", func(string) string { return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n" }},
		{"wrong accept", func(string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: AAAA\r\n\r\n"
		}},
		{"no upgrade", func(key string) string {
			return "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n\r\n"
		}},
		{"extension", func(key string) string { return ok(key) + "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := fakeServer(t, tc.resp)
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			c, err := Dial(ctx, url, nil, Config{})
			if !errors.Is(err, ErrBadHandshake) {
				if c != nil {
					c.Close()
				}
				t.Fatalf("err %v", err)
			}
		})
	}
}

// TestDialResponseHeadBounded is the regression test for a client reading
// a server's handshake answer without a size limit: http.ReadResponse
// buffered a header line for as long as the server sent it (1.9 GiB
// allocated before the timeout). A head over 64 KiB now fails at once with
// ErrBadHandshake; a large but sane one still works.
func TestDialResponseHeadBounded(t *testing.T) {
	ok := func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + acceptKey(key) + "\r\n"
	}
	// 1 MiB of one header line, never ended: without the bound Dial waits
	// for the rest until its timeout.
	url := fakeServer(t, func(key string) string { return ok(key) + "X-Big: " + strings.Repeat("a", 1<<20) })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, url, nil, Config{})
	if c != nil {
		c.Close()
	}
	if !errors.Is(err, ErrBadHandshake) || !strings.Contains(err.Error(), "response head over 65536 bytes") {
		t.Fatalf("endless header: %v, want ErrBadHandshake (response head over 65536 bytes)", err)
	}
	// Many headers adding up past the bound fail the same way.
	url = fakeServer(t, func(key string) string {
		return ok(key) + strings.Repeat("X-Many: "+strings.Repeat("b", 100)+"\r\n", 1000) + "\r\n"
	})
	if c, err = Dial(ctx, url, nil, Config{}); !errors.Is(err, ErrBadHandshake) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("many headers: %v, want ErrBadHandshake", err)
	}
	// 32 KiB of headers is within it.
	url = fakeServer(t, func(key string) string { return ok(key) + "X-Big: " + strings.Repeat("a", 32<<10) + "\r\n\r\n" })
	dial(t, url, Config{})
}

func TestDialPendingFrame(t *testing.T) {
	// The server's first frame arrives in the same segment as its 101.
	url := fakeServer(t, func(key string) string {
		return "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
			acceptKey(key) + "\r\n\r\n" + string(rawFrame(true, 0, OpText, []byte("welcome"), false))
	})
	c := dial(t, url, Config{})
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "welcome" {
		t.Fatalf("%q %v", p, err)
	}
}

func TestDialHandshakeTimeout(t *testing.T) {
	url := fakeServer(t, func(string) string { return "" }) // never answers
	c, err := Dial(context.Background(), url, nil, Config{HandshakeTimeout: 100 * time.Millisecond})
	if err == nil {
		c.Close()
		t.Fatal("want timeout")
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
}

func TestDialCancel(t *testing.T) {
	url := fakeServer(t, func(string) string { return "" })
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		c, err := Dial(ctx, url, nil, Config{})
		if c != nil {
			c.Close()
		}
		errc <- err
	}()
	cancel()
	if err := recv(t, errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v", err)
	}
}

func TestDialBadURL(t *testing.T) {
	for _, u := range []string{"ftp://x/", "ws://", "::bad"} {
		if c, err := Dial(context.Background(), u, nil, Config{}); err == nil {
			c.Close()
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}
