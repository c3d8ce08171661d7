package ws

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

const testTimeout = 10 * time.Second

// startServer runs an httptest server whose handler accepts a WebSocket with
// cfg and runs handle on it; handle's result lands on the returned channel.
// The server is closed at cleanup (after the test's own cleanups that were
// registered later, such as closing clients).
func startServer(tb testing.TB, cfg Config, handle func(c *Conn) error) (string, <-chan error) {
	tb.Helper()
	errs := make(chan error, 64)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Accept(w, r, cfg)
		if err != nil {
			errs <- err
			return
		}
		defer c.Close()
		errs <- handle(c)
	}))
	tb.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http"), errs
}

// echo answers every data message with the same message.
func echo(c *Conn) error {
	for {
		op, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if err := c.WriteMessage(op, p); err != nil {
			return err
		}
	}
}

// dial opens a client connection closed at cleanup.
func dial(tb testing.TB, url string, cfg Config) *Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := Dial(ctx, url, nil, cfg)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	return c
}

// recv waits for one value from ch.
func recv[T any](tb testing.TB, ch <-chan T) T {
	tb.Helper()
	return testutil.Recv(tb, ch, "a value on a channel", testTimeout)
}

// rawFrame builds one frame; masked frames get a fixed non-zero key.
func rawFrame(fin bool, rsv, op byte, payload []byte, masked bool) []byte {
	var hdr [maxHeaderLen]byte
	key := uint32(0x5a17c3e1)
	hn := putHeader(hdr[:], fin, op, len(payload), masked, key)
	hdr[0] |= rsv << 4
	out := append(hdr[:hn:hn], payload...)
	if masked {
		maskBytes(key, 0, out[hn:])
	}
	return out
}

// readRawFrame reads one frame from r, unmasking it if needed.
func readRawFrame(r io.Reader) (fin bool, op byte, payload []byte, err error) {
	var h [2]byte
	if _, err = io.ReadFull(r, h[:]); err != nil {
		return
	}
	fin, op = h[0]&finBit != 0, h[0]&opMask
	n := uint64(h[1] & lenMask)
	switch n {
	case 126:
		var b [2]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		n = binary.BigEndian.Uint64(b[:])
	}
	var key uint32
	if h[1]&maskBit != 0 {
		var b [4]byte
		if _, err = io.ReadFull(r, b[:]); err != nil {
			return
		}
		key = binary.LittleEndian.Uint32(b[:])
	}
	payload = make([]byte, n)
	if _, err = io.ReadFull(r, payload); err != nil {
		return
	}
	if h[1]&maskBit != 0 {
		maskBytes(key, 0, payload)
	}
	return
}

// rawClient performs a client handshake by hand and returns the conn and a
// reader positioned after the 101 response.
func rawClient(tb testing.TB, url string, extra string) (net.Conn, *bufio.Reader) {
	tb.Helper()
	addr := strings.TrimPrefix(url, "ws://")
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(testTimeout))
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n" + extra
	if _, err := io.WriteString(nc, req); err != nil {
		tb.Fatal(err)
	}
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		tb.Fatalf("status %d", resp.StatusCode)
	}
	if got := resp.Header.Get("Sec-WebSocket-Accept"); got != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		tb.Fatalf("accept %q", got)
	}
	return nc, br
}

// wantCloseError checks that err is a *CloseError with code.
func wantCloseError(tb testing.TB, err error, code int) *CloseError {
	tb.Helper()
	var ce *CloseError
	if !errors.As(err, &ce) {
		tb.Fatalf("err = %v, want *CloseError %d", err, code)
	}
	if ce.Code != code {
		tb.Fatalf("close code = %d (%q), want %d", ce.Code, ce.Reason, code)
	}
	return ce
}
