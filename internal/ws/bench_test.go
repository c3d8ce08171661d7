package ws

import (
	"fmt"
	"net"
	"testing"
	"time"
	"unsafe"
)

// memConn is a net.Conn with no I/O cost: writes are discarded and reads
// replay src forever. Only the framing code is measured.
type memConn struct {
	src []byte
	off int
}

func (m *memConn) Read(p []byte) (int, error) {
	if m.off == len(m.src) {
		m.off = 0
	}
	n := copy(p, m.src[m.off:])
	m.off += n
	return n, nil
}
func (m *memConn) Write(p []byte) (int, error)      { return len(p), nil }
func (m *memConn) Close() error                     { return nil }
func (m *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (m *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (m *memConn) SetDeadline(time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(time.Time) error { return nil }

var benchSizes = []int{125, 4096}

func BenchmarkWriteMessage(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", side, n), func(b *testing.B) {
				c := newConn(&memConn{}, side == "client", Config{}, nil)
				p := make([]byte, n)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if err := c.WriteMessage(OpBinary, p); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkReadMessage(b *testing.B) {
	for _, side := range []string{"server", "client"} {
		for _, n := range benchSizes {
			b.Run(fmt.Sprintf("%s/%d", side, n), func(b *testing.B) {
				// A server reads masked frames, a client unmasked ones.
				frame := rawFrame(true, 0, OpBinary, make([]byte, n), side == "server")
				c := newConn(&memConn{src: frame}, side == "client", Config{}, nil)
				b.SetBytes(int64(n))
				b.ReportAllocs()
				for b.Loop() {
					if _, _, err := c.ReadMessage(); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkFrameScanner(b *testing.B) {
	frame := rawFrame(true, 0, OpBinary, make([]byte, 125), true)
	var s FrameScanner
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		s.Feed(frame[:3])
		s.Feed(frame[3:])
	}
}

// BenchmarkEchoLoopback is a full round trip over loopback TCP.
func BenchmarkEchoLoopback(b *testing.B) {
	url, _ := startServer(b, Config{}, echo)
	c := dial(b, url, Config{})
	p := make([]byte, 125)
	b.ReportAllocs()
	for b.Loop() {
		if err := c.WriteMessage(OpBinary, p); err != nil {
			b.Fatal(err)
		}
		if _, _, err := c.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
}

var sizeofConn = unsafe.Sizeof(Conn{})
