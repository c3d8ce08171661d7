package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

func wsEchoBackend(tb testing.TB) *httptest.Server {
	tb.Helper()
	s := httptest.NewServer(http.HandlerFunc(wsEcho))
	tb.Cleanup(func() { s.CloseClientConnections(); s.Close() })
	return s
}

// wsEcho accepts a WebSocket and echoes every message until it closes.
func wsEcho(w http.ResponseWriter, r *http.Request) {
	c, err := ws.Accept(w, r, ws.Config{})
	if err != nil {
		return
	}
	defer c.Close()
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if err := c.WriteMessage(op, p); err != nil {
			return
		}
	}
}

func TestWebSocketEchoThroughProxy(t *testing.T) { tunnelFronts(t, testWebSocketEchoThroughProxy) }

func testWebSocketEchoThroughProxy(t *testing.T) {
	e := newEnv(t, Config{})
	b := e.add(t, "a", wsEchoBackend(t).URL, 1)
	c := e.dialWS(t, "/ws?x=1")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for i, msg := range []string{"hello", strings.Repeat("big", 50000), ""} {
		if err := c.WriteMessage(ws.OpText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		op, p, err := c.ReadMessage()
		if err != nil || op != ws.OpText || string(p) != msg {
			t.Fatalf("message %d: op %d len %d err %v", i, op, len(p), err)
		}
	}
	if b.Tunnels() != 1 || e.p.Tunnels() != 1 {
		t.Fatalf("tunnels %d %d", b.Tunnels(), e.p.Tunnels())
	}
	// A graceful shutdown: the idle tunnel gets Close 1001 at once.
	errc := make(chan error, 1)
	go func() { errc <- e.p.CloseTunnels(ctx) }()
	_, _, err := c.ReadMessage()
	var ce *ws.CloseError
	if !errors.As(err, &ce) || ce.Code != ws.CloseGoingAway {
		t.Fatalf("want close 1001, got %v", err)
	}
	_ = c.Close()
	if err := wait(t, errc, "CloseTunnels"); err != nil {
		t.Fatal(err)
	}
	if b.Tunnels() != 0 || e.p.Tunnels() != 0 {
		t.Fatalf("tunnels left %d %d", b.Tunnels(), e.p.Tunnels())
	}
	// New upgrades are refused after CloseTunnels.
	if _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws", nil, ws.Config{}); err == nil {
		t.Fatal("upgrade accepted after CloseTunnels")
	}
}

// frameHeader builds a binary frame header for n payload bytes; masked
// frames use the all-zero key so the payload is sent as is.
func frameHeader(n int, masked bool) []byte {
	h := []byte{0x82, 126, 0, 0}
	binary.BigEndian.PutUint16(h[2:], uint16(n))
	if masked {
		h[1] |= 0x80
		h = append(h, 0, 0, 0, 0)
	}
	return h
}

// readClose reads one frame and returns its close code (masked or not).
func readClose(tb testing.TB, r io.Reader) int {
	tb.Helper()
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		tb.Fatalf("reading close frame: %v", err)
	}
	if h[0] != 0x88 {
		tb.Fatalf("want a final Close frame, got first byte %#x", h[0])
	}
	n := int(h[1] & 0x7f)
	var key [4]byte
	if h[1]&0x80 != 0 {
		if _, err := io.ReadFull(r, key[:]); err != nil {
			tb.Fatal(err)
		}
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(r, p); err != nil {
		tb.Fatal(err)
	}
	for i := range p {
		p[i] ^= key[i%4]
	}
	if n < 2 {
		tb.Fatalf("close frame without code")
	}
	return int(binary.BigEndian.Uint16(p))
}

// TestCloseTunnelsAtFrameBoundary: shutdown begins while a frame is half
// through the proxy in both directions; each side still receives the whole
// frame, then Close 1001.
func TestCloseTunnelsAtFrameBoundary(t *testing.T) { tunnelFronts(t, testCloseTunnelsAtFrameBoundary) }

func testCloseTunnelsAtFrameBoundary(t *testing.T) {
	e := newEnv(t, Config{})
	closeTunnelsAtFrameBoundary(t, e, func() (net.Conn, error) { return net.Dial("tcp", strings.TrimPrefix(e.url, "http://")) })
}

// TestCloseTLSTunnelsAtFrameBoundary is TestCloseTunnelsAtFrameBoundary
// with the client on TLS, whose socket the reactor polls but never reads.
func TestCloseTLSTunnelsAtFrameBoundary(t *testing.T) {
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	bothFronts(t, func(t *testing.T) {
		e := newTLSEnv(t, t.Name()[strings.LastIndex(t.Name(), "/")+1:], cert, http.NotFoundHandler())
		closeTunnelsAtFrameBoundary(t, e, func() (net.Conn, error) {
			return tls.Dial("tcp", strings.TrimPrefix(e.url, "https://"), &tls.Config{RootCAs: cert.Pool, NextProtos: []string{"http/1.1"}})
		})
	})
}

func closeTunnelsAtFrameBoundary(t *testing.T, e *env, dial func() (net.Conn, error)) {
	backendConn := make(chan net.Conn, 1)
	backendDone := make(chan struct{})
	url := rawBackend(t, func(c net.Conn) {
		if _, err := readRequestHead(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
		backendConn <- c
		<-backendDone
	})
	e.add(t, "a", url, 1)
	closing := make(chan struct{})
	e.p.testHookClosing = func() { close(closing) }

	cc, err := dial()
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, _ = io.WriteString(cc, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	cr := bufio.NewReader(cc)
	res, err := http.ReadResponse(cr, nil)
	if err != nil || res.StatusCode != 101 {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	bc := wait(t, backendConn, "backend conn")
	defer close(backendDone)
	br := bufio.NewReader(bc)

	const size = 1000
	a, b := bytes.Repeat([]byte("a"), size), bytes.Repeat([]byte("b"), size)
	// Half a frame each way, and make sure it went through.
	_, _ = bc.Write(append(frameHeader(size, false), a[:size/2]...))
	_, _ = cc.Write(append(frameHeader(size, true), b[:size/2]...))
	got := make([]byte, 4+size/2)
	if _, err := io.ReadFull(cr, got); err != nil || !bytes.Equal(got[4:], a[:size/2]) {
		t.Fatalf("client got %q %v", got, err)
	}
	got = make([]byte, 8+size/2)
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got[8:], b[:size/2]) {
		t.Fatalf("backend got %v", err)
	}

	errc := make(chan error, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	go func() { errc <- e.p.CloseTunnels(ctx) }()
	wait(t, closing, "closing")
	// The rest of both frames, then a frame that must not pass any more.
	_, _ = bc.Write(append(a[size/2:], frameHeader(3, false)...))
	_, _ = cc.Write(append(b[size/2:], frameHeader(3, true)...))

	got = make([]byte, size/2)
	if _, err := io.ReadFull(cr, got); err != nil || !bytes.Equal(got, a[size/2:]) {
		t.Fatalf("client: rest of frame %v", err)
	}
	if code := readClose(t, cr); code != 1001 {
		t.Fatalf("client close code %d", code)
	}
	if _, err := io.ReadFull(br, got); err != nil || !bytes.Equal(got, b[size/2:]) {
		t.Fatalf("backend: rest of frame %v", err)
	}
	if code := readClose(t, br); code != 1001 {
		t.Fatalf("backend close code %d", code)
	}
	// Both peers close; the proxy finishes.
	_ = cc.Close()
	_ = bc.Close()
	if err := wait(t, errc, "CloseTunnels"); err != nil {
		t.Fatal(err)
	}
}

// TestTunnelHalfClose: EOF from the client is forwarded as a half-close and
// the backend's last bytes still reach the client.
func TestTunnelHalfClose(t *testing.T) { tunnelFronts(t, testTunnelHalfClose) }

func testTunnelHalfClose(t *testing.T) {
	e := newEnv(t, Config{})
	url := rawBackend(t, func(c net.Conn) {
		if _, err := readRequestHead(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nhello-")
		rest, _ := io.ReadAll(c) // until the client's EOF
		_, _ = c.Write(append([]byte("got:"), rest...))
	})
	e.add(t, "a", url, 1)
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, _ = io.WriteString(cc, "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\nearly")
	cr := bufio.NewReader(cc)
	res, err := http.ReadResponse(cr, nil)
	if err != nil || res.StatusCode != 101 || res.Header.Get("Upgrade") != "foo" {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	_, _ = io.WriteString(cc, "+late")
	_ = cc.(*net.TCPConn).CloseWrite()
	all, err := io.ReadAll(cr)
	if err != nil || string(all) != "hello-got:early+late" {
		t.Fatalf("got %q %v", all, err)
	}
}

func TestTunnelIdleTimeout(t *testing.T) { tunnelFronts(t, testTunnelIdleTimeout) }

// testTunnelIdleTimeout: with TunnelIdleTimeout a tunnel that carries
// traffic (gaps well under the timeout) stays open past it, then closes
// once traffic stops, on both sides, and the counters drop.
func testTunnelIdleTimeout(t *testing.T) {
	const idle = 800 * time.Millisecond
	e := newEnv(t, Config{TunnelIdleTimeout: idle})
	b := e.add(t, "a", wsEchoBackend(t).URL, 1)
	c := e.dialWS(t, "/ws")
	start := time.Now()
	for i := 0; time.Since(start) < 3*idle; i++ {
		msg := strconv.Itoa(i)
		if err := c.WriteMessage(ws.OpText, []byte(msg)); err != nil {
			t.Fatalf("write %d after %s: %v (the tunnel closed while active)", i, time.Since(start), err)
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
			t.Fatalf("echo %d after %s: %q %v (the tunnel closed while active)", i, time.Since(start), p, err)
		}
		time.Sleep(idle / 8)
	}
	// Now idle: the proxy closes the tunnel, so the client's read ends
	// (the deadline only guards against a hang).
	_ = c.SetReadDeadline(time.Now().Add(15 * time.Second))
	if _, _, err := c.ReadMessage(); err == nil || isTimeout(err) {
		t.Fatalf("idle tunnel not closed: %v", err)
	}
	testutil.WaitFor(t, "tunnel counters back to 0", func() bool { return b.Tunnels() == 0 && e.p.Tunnels() == 0 })
}
