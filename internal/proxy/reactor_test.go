//go:build linux

package proxy

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// pattern fills p with the bytes of a stream at offset off.
func pattern(p []byte, off int) {
	for i := range p {
		p[i] = byte((off + i) % 251)
	}
}

// TestTunnelBulkSlowReader pushes 24 MiB each way through a tunnel whose
// client reads nothing until the reactor had to hand a direction to a
// goroutine (the client's socket was full, or the source kept the buffer
// full). Every byte must arrive in order. Once idle, the directions go
// back to the reactor, and a small message still makes the round trip.
func TestTunnelBulkSlowReader(t *testing.T) { tunnelFronts(t, testTunnelBulkSlowReader) }

func testTunnelBulkSlowReader(t *testing.T) {
	e := newEnv(t, Config{})
	handoff := make(chan struct{})
	var handoffOnce sync.Once
	e.p.testHookHandoff = func() { handoffOnce.Do(func() { close(handoff) }) }
	rearmed := make(chan struct{}, 16)
	e.p.testHookRearmed = func() {
		select {
		case rearmed <- struct{}{}:
		default:
		}
	}
	e.add(t, "a", echoUpgradeBackend(t), 1)
	cc := openRawTunnel(t, e)

	const total = 24 << 20
	werr := make(chan error, 1)
	go func() {
		buf := make([]byte, 64<<10)
		for off := 0; off < total; off += len(buf) {
			pattern(buf, off)
			if _, err := cc.Write(buf); err != nil {
				werr <- err
				return
			}
		}
		werr <- nil
	}()
	wait(t, handoff, "a hand-off to a goroutine")
	got := make([]byte, 64<<10)
	want := make([]byte, len(got))
	for off := 0; off < total; {
		n, err := cc.Read(got)
		if err != nil {
			t.Fatalf("read at %d: %v", off, err)
		}
		pattern(want[:n], off)
		if !bytes.Equal(got[:n], want[:n]) {
			t.Fatalf("bytes %d..%d differ", off, off+n)
		}
		off += n
	}
	if err := wait(t, werr, "writer"); err != nil {
		t.Fatal(err)
	}
	// After hotWait without traffic every pump returns its direction.
	wait(t, rearmed, "a direction back in the reactor")
	msg := []byte("still there")
	if _, err := cc.Write(msg); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(cc, got[:len(msg)]); err != nil || !bytes.Equal(got[:len(msg)], msg) {
		t.Fatalf("after re-arm: %q %v", got[:len(msg)], err)
	}
}

// TestTunnelsInterleaved runs many tunnels at once, each ping-ponging
// numbered messages of varied sizes; each must see exactly its own bytes.
func TestTunnelsInterleaved(t *testing.T) { tunnelFronts(t, testTunnelsInterleaved) }

func testTunnelsInterleaved(t *testing.T) {
	e := newEnv(t, Config{})
	e.add(t, "a", echoUpgradeBackend(t), 1)
	const tunnels, rounds = 16, 200
	conns := make([]net.Conn, tunnels)
	for i := range conns {
		conns[i] = openRawTunnel(t, e)
	}
	var wg sync.WaitGroup
	errs := make(chan error, tunnels)
	for i, c := range conns {
		wg.Go(func() {
			for r := range rounds {
				msg := bytes.Repeat([]byte{byte(i), byte(r)}, 1+(r*37+i*101)%5000)
				if _, err := c.Write(msg); err != nil {
					errs <- err
					return
				}
				got := make([]byte, len(msg))
				if _, err := io.ReadFull(c, got); err != nil {
					errs <- err
					return
				}
				if !bytes.Equal(got, msg) {
					errs <- io.ErrUnexpectedEOF
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := e.p.Tunnels(); n != tunnels {
		t.Fatalf("tunnels %d, want %d", n, tunnels)
	}
	checkRing(t, e)
}

// checkRing fails t unless e's reactors write through a send ring exactly
// when they should: io_uring works here and the test did not turn it off.
func checkRing(t *testing.T, e *env) {
	t.Helper()
	want := !strings.Contains(t.Name()+"/", "/noring/")
	if r, err := rawio.NewSendRing(1); err != nil {
		t.Logf("io_uring unavailable here (%v): only the plain path was tested", err)
		want = false
	} else {
		r.Close()
	}
	e.p.mu.Lock()
	defer e.p.mu.Unlock()
	if len(e.p.reactors) == 0 {
		t.Fatal("no reactor")
	}
	for i, rc := range e.p.reactors {
		if got := rc.usesRing(); got != want {
			t.Errorf("reactor %d writes through a send ring: %v, want %v", i, got, want)
		}
	}
}

// TestTunnelSlowBackendSmallWrites: the client sends small, paced
// messages to a backend with a tiny receive buffer that reads nothing at
// first, so the reactor reads each message alone and its non-blocking
// write to the backend comes up short; a goroutine writes the rest, in
// order, once the backend reads.
func TestTunnelSlowBackendSmallWrites(t *testing.T) {
	tunnelFronts(t, testTunnelSlowBackendSmallWrites)
}

func testTunnelSlowBackendSmallWrites(t *testing.T) {
	e := newEnv(t, Config{})
	handoff := make(chan struct{})
	var handoffOnce sync.Once
	e.p.testHookHandoff = func() { handoffOnce.Do(func() { close(handoff) }) }
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		return rc.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 2048)
		})
	}}
	ln, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	backendConn := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		if _, err := readRequestHead(c); err != nil {
			c.Close()
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n")
		backendConn <- c
	}()
	e.add(t, "a", "http://"+ln.Addr().String(), 1)
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	_, _ = io.WriteString(cc, "GET /x HTTP/1.1\r\nHost: x\r\nUpgrade: foo\r\nConnection: Upgrade\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(cc), nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v %v", res, err)
	}
	bc := wait(t, backendConn, "backend conn")
	defer bc.Close()

	// Paced writes (pacing only makes short reads likely; the check
	// below holds either way) until the reactor handed the direction off.
	const chunk = 500
	buf := make([]byte, chunk)
	sent := 0
	paced := time.NewTicker(100 * time.Microsecond)
	defer paced.Stop()
	for done := false; !done && sent < 64<<20; {
		pattern(buf, sent)
		if _, err := cc.Write(buf); err != nil {
			t.Fatal(err)
		}
		sent += chunk
		select {
		case <-handoff:
			done = true
		case <-paced.C:
		}
	}
	_ = cc.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(bc)
	if err != nil || len(got) != sent {
		t.Fatalf("backend got %d of %d bytes: %v", len(got), sent, err)
	}
	want := make([]byte, sent)
	pattern(want, 0)
	if !bytes.Equal(got, want) {
		t.Fatal("bytes differ")
	}
}

// TestStalePooledConnection: the backend closes each keep-alive connection
// right after its response; the next request reuses it at once (before any
// staleness probe). The request meets a reset, which must end the wait for
// the response at once, and is tried again on a new connection to the same
// backend: with a single backend every request gets its 200, none waits
// for the response-head timeout.
func TestStalePooledConnection(t *testing.T) { tunnelFronts(t, testStalePooledConnection) }

func testStalePooledConnection(t *testing.T) {
	e := newEnv(t, Config{ResponseHeaderTimeout: time.Minute})
	url := rawBackend(t, func(c net.Conn) {
		if _, err := http.ReadRequest(bufio.NewReader(c)); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
		// return: the connection closes although it looked keep-alive
	})
	e.add(t, "a", url, 1)
	for i := range 20 {
		if res, body := e.get(t, "/"); res.StatusCode != http.StatusOK || body != "ok" {
			t.Fatalf("request %d: %d %q", i, res.StatusCode, body)
		}
	}
}

// TestStaleConnectionKeepsSession: the same backend behaviour as above under
// an Engine.IO session: a polling request with its sid that meets a stale
// pooled connection still reaches the session's backend (on a new
// connection) instead of losing the session ("Session ID unknown").
func TestStaleConnectionKeepsSession(t *testing.T) { tunnelFronts(t, testStaleConnectionKeepsSession) }

func testStaleConnectionKeepsSession(t *testing.T) {
	e := newEnv(t, Config{ResponseHeaderTimeout: time.Minute})
	url := rawBackend(t, func(c net.Conn) {
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil {
			return
		}
		body := "a"
		if req.URL.Query().Get("sid") == "" {
			body = `0{"sid":"a-1","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`
		}
		fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
		// return: the connection closes although it looked keep-alive
	})
	e.add(t, "a", url, 1)
	if _, body := e.get(t, "/socket.io/?EIO=4&transport=polling"); sidFromHandshake([]byte(body)) != "a-1" {
		t.Fatalf("handshake %q", body)
	}
	for i := range 10 {
		if res, body := e.get(t, "/socket.io/?EIO=4&transport=polling&sid=a-1"); res.StatusCode != http.StatusOK || body != "a" {
			t.Fatalf("poll %d: %d %q", i, res.StatusCode, body)
		}
	}
}

// TestArrange checks a batch's dispatch order: directions toward backends
// first, grouped by backend in the order each backend first appears, then
// those toward clients, each group keeping the order of events.
func TestArrange(t *testing.T) {
	b1, b2 := &backend.Backend{ID: "b1"}, &backend.Backend{ID: "b2"}
	t1, t2, t3 := &tunnel{b: b1}, &tunnel{b: b2}, &tunnel{b: b1}
	up := func(t *tunnel) *dir { return &dir{t: t, toServer: true} }
	down := func(t *tunnel) *dir { return &dir{t: t} }
	c1, s1, s2, s3, c2, s4, c3 := down(t1), up(t2), up(t1), up(t3), down(t2), up(t2), down(t3)
	batch := func(dirs ...*dir) (out []batchItem) {
		for i, d := range dirs {
			out = append(out, batchItem{d: d, ev: uint32(i + 1)})
		}
		return out
	}
	items := batch(c1, s1, s2, s3, c2, s4, c3)
	want := []batchItem{items[1], items[5], items[2], items[3], items[0], items[4], items[6]}
	same := func(a, b batchItem) bool { return a.d == b.d && a.ev == b.ev }
	if got := arrange(items, nil); !slices.EqualFunc(got, want, same) {
		evs := func(b []batchItem) (out []uint32) {
			for _, it := range b {
				out = append(out, it.ev)
			}
			return out
		}
		t.Errorf("order of events %v, want %v", evs(got), evs(want))
	}
	for i, it := range items {
		if it.d != nil {
			t.Errorf("items[%d] still holds its direction", i)
		}
	}
	if got := arrange(items[:0], nil); len(got) != 0 {
		t.Errorf("empty batch arranged to %d items", len(got))
	}
}
