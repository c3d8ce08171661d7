package proxy

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// openRawTunnel upgrades one connection through e to a backend that
// echoes every byte after its 101, and returns the client side.
func openRawTunnel(tb testing.TB, e *env) net.Conn {
	tb.Helper()
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	return upgradeTunnel(tb, cc)
}

// upgradeTunnel sends a WebSocket upgrade on cc, which it closes at the
// end of the test, and checks the 101 came with nothing behind it.
func upgradeTunnel(tb testing.TB, cc net.Conn) net.Conn {
	tb.Helper()
	tb.Cleanup(func() { _ = cc.Close() })
	_, _ = io.WriteString(cc, "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(cc)
	res, err := http.ReadResponse(br, nil)
	if err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("upgrade: %v %v", res, err)
	}
	if br.Buffered() > 0 {
		tb.Fatal("bytes after the 101")
	}
	return cc
}

// echoUpgradeBackend answers an upgrade with 101 (naming the protocol the
// request asked for) and then echoes bytes, those that came with the
// request included.
func echoUpgradeBackend(tb testing.TB) string {
	tb.Helper()
	return rawBackend(tb, func(c net.Conn) {
		br := bufio.NewReader(c)
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: "+req.Header.Get("Upgrade")+"\r\nConnection: Upgrade\r\n\r\n")
		_, _ = io.Copy(c, br)
	})
}

// BenchmarkTunnelEcho ping-pongs one 38-byte WebSocket frame (32-byte
// masked payload) through a tunnel: client → proxy → echo backend →
// proxy → client, per operation. Parallel: 8 tunnels per GOMAXPROCS.
// "ring" writes each reactor batch with one io_uring submission (the
// default where the kernel allows it), "write" with one write(2) per
// message.
func BenchmarkTunnelEcho(b *testing.B) {
	for _, off := range []bool{false, true} {
		name := "ring"
		if off {
			name = "write"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnvNamed(b, Config{DisableIOURing: off}, "bench/fast")
			benchTunnelEcho(b, e, func() (net.Conn, error) { return net.Dial("tcp", strings.TrimPrefix(e.url, "http://")) })
		})
	}
}

// BenchmarkTLSTunnelEcho is BenchmarkTunnelEcho with the clients on TLS
// (the proxy decrypts and encrypts every frame).
func BenchmarkTLSTunnelEcho(b *testing.B) {
	cert := testutil.WriteCert(b, b.TempDir(), 1)
	e := newTLSEnv(b, "fast", cert, http.NotFoundHandler())
	cfg := &tls.Config{RootCAs: cert.Pool, NextProtos: []string{"http/1.1"}}
	benchTunnelEcho(b, e, func() (net.Conn, error) { return tls.Dial("tcp", strings.TrimPrefix(e.url, "https://"), cfg) })
}

// benchTunnelEcho runs the echo benchmark through e on connections from
// dial.
func benchTunnelEcho(b *testing.B, e *env, dial func() (net.Conn, error)) {
	e.add(b, "a", echoUpgradeBackend(b), 1)
	msg := append(frameHeader(32, true)[:0:0], 0x81, 0x80|32, 0, 0, 0, 0)
	msg = append(msg, strings.Repeat("x", 32)...)
	var mu sync.Mutex
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		cc, err := dial()
		if err == nil {
			cc = upgradeTunnel(b, cc)
		}
		mu.Unlock()
		if err != nil {
			b.Error(err)
			return
		}
		got := make([]byte, len(msg))
		for pb.Next() {
			if _, err := cc.Write(msg); err != nil {
				b.Error(err)
				return
			}
			if _, err := io.ReadFull(cc, got); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFastPathGET sends keep-alive GET / requests through the fast
// front end to a loopback backend answering 13 bytes, over raw client
// connections (8 per GOMAXPROCS in parallel); per operation: one request.
func BenchmarkFastPathGET(b *testing.B) {
	e := newEnvNamed(b, Config{}, "bench/fast")
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Hello, World!")
	}))
	b.Cleanup(be.Close)
	e.add(b, "a", be.URL, 1)
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	b.ReportAllocs()
	b.SetParallelism(8)
	b.RunParallel(func(pb *testing.PB) {
		cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
		if err != nil {
			b.Error(err)
			return
		}
		defer cc.Close()
		br := bufio.NewReader(cc)
		for pb.Next() {
			if _, err := cc.Write(req); err != nil {
				b.Error(err)
				return
			}
			res, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	})
}
