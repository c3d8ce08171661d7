//go:build unix

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// pair returns the two ends of a loopback TCP connection.
func pair(t testing.TB) (client, server *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	acc := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		acc <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-acc
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

func TestReadWrite(t *testing.T) {
	c, s := pair(t)
	rc, rs := Of(c), Of(s)
	if rc == nil || rs == nil {
		t.Fatal("Of: nil for a TCP connection")
	}
	if n, err := rc.Write([]byte("hello")); n != 5 || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	buf := make([]byte, 16)
	n, err := rs.Read(buf) // waits in the poller until the bytes are there
	if err != nil || string(buf[:n]) != "hello" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	// A reader that waits for bytes written later.
	done := make(chan string, 1)
	go func() {
		n, err := rs.Read(buf)
		if err != nil {
			done <- err.Error()
			return
		}
		done <- string(buf[:n])
	}()
	time.Sleep(20 * time.Millisecond)
	if _, err := c.Write([]byte("later")); err != nil {
		t.Fatal(err)
	}
	if got := <-done; got != "later" {
		t.Fatalf("waiting Read = %q", got)
	}
	if n, err := rs.Read(nil); n != 0 || err != nil {
		t.Fatalf("Read(nil) = %d, %v", n, err)
	}
	// The peer closing gives io.EOF.
	c.Close()
	if n, err := rs.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after peer close = %d, %v; want io.EOF", n, err)
	}
}

func TestReadDeadline(t *testing.T) {
	_, s := pair(t)
	rs := Of(s)
	_ = s.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	_, err := rs.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past the deadline = %v; want a timeout", err)
	}
}

func TestReadClosed(t *testing.T) {
	_, s := pair(t)
	rs := Of(s)
	s.Close()
	if _, err := rs.Read(make([]byte, 8)); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Read on a closed conn = %v; want net.ErrClosed", err)
	}
	if _, err := rs.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write on a closed conn = %v; want net.ErrClosed", err)
	}
}

func TestWriteReset(t *testing.T) {
	c, s := pair(t)
	_ = c.SetLinger(0)
	c.Close() // RST
	rs := Of(s)
	time.Sleep(20 * time.Millisecond)
	var err error
	for range 100 { // the first write may still be accepted
		if _, err = rs.Write(make([]byte, 1024)); err != nil {
			break
		}
	}
	if !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("Write to a reset peer = %v; want ECONNRESET or EPIPE", err)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) {
		t.Fatalf("Write error %T is not an *os.SyscallError", err)
	}
}

// TestWriteLarge writes more than the socket buffers hold, so Write must
// wait for writability (the reader is slow) and resume where it stopped.
func TestWriteLarge(t *testing.T) {
	c, s := pair(t)
	_ = c.SetWriteBuffer(16 << 10)
	_ = s.SetReadBuffer(16 << 10)
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<18) // 4 MiB
	got := make(chan []byte, 1)
	go func() {
		var b bytes.Buffer
		buf := make([]byte, 3000)
		for b.Len() < len(want) {
			n, err := s.Read(buf)
			if err != nil {
				break
			}
			b.Write(buf[:n])
		}
		got <- b.Bytes()
	}()
	rc := Of(c)
	if n, err := rc.Write(want); n != len(want) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if !bytes.Equal(<-got, want) {
		t.Fatal("the bytes read differ from the bytes written")
	}
}

func TestWriteDeadline(t *testing.T) {
	c, _ := pair(t) // nobody reads the other end
	_ = c.SetWriteBuffer(16 << 10)
	_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
	n, err := Of(c).Write(make([]byte, 64<<20))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("Write past the deadline = %d, %v; want a timeout", n, err)
	}
	if n <= 0 || n >= 64<<20 {
		t.Fatalf("Write past the deadline reported %d bytes written", n)
	}
}

// TestWriteBuffers writes more buffers than one writev takes (IOV_MAX),
// with empty ones among them and more bytes than the socket buffers hold.
func TestWriteBuffers(t *testing.T) {
	c, s := pair(t)
	_ = c.SetWriteBuffer(16 << 10)
	var v net.Buffers
	var want []byte
	for i := range 3000 {
		b := bytes.Repeat([]byte{byte('a' + i%26)}, i%700)
		v = append(v, b)
		want = append(want, b...)
	}
	orig := v
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(s, int64(len(want))))
		got <- b
	}()
	n, err := Of(c).WriteBuffers(&v)
	if err != nil || n != int64(len(want)) {
		t.Fatalf("WriteBuffers = %d, %v; want %d", n, err, len(want))
	}
	if len(v) != 0 {
		t.Fatalf("WriteBuffers left %d buffers", len(v))
	}
	if !bytes.Equal(<-got, want) {
		t.Fatal("the bytes read differ from the buffers written")
	}
	for i := range orig[:len(orig)-1] {
		if orig[i] != nil {
			t.Fatalf("buffer %d is still referenced after it was written", i)
		}
	}
}

func TestConsume(t *testing.T) {
	v := net.Buffers{[]byte("ab"), nil, []byte("cde"), []byte("f")}
	consume(&v, 3)
	if len(v) != 2 || string(v[0]) != "de" || string(v[1]) != "f" {
		t.Fatalf("consume(3) left %q", v)
	}
	consume(&v, 3)
	if len(v) != 0 {
		t.Fatalf("consume of everything left %q", v)
	}
}

func TestOfNotASocket(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if Of(a) != nil {
		t.Fatal("Of(net.Pipe) is not nil")
	}
}

// BenchmarkEcho is a write and a read of 64 bytes over loopback, raw
// against the net.Conn methods (the runtime's syscall bookkeeping).
func BenchmarkEcho(b *testing.B) {
	for _, mode := range []string{"raw", "netconn"} {
		b.Run(mode, func(b *testing.B) {
			c, s := pair(b)
			var w io.Writer = c
			var r io.Reader = s
			if mode == "raw" {
				w, r = Of(c), Of(s)
			}
			msg := make([]byte, 64)
			buf := make([]byte, 64)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := w.Write(msg); err != nil {
					b.Fatal(err)
				}
				if _, err := io.ReadFull(r, buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestPeek(t *testing.T) {
	c, s := pair(t)
	rc := RawConnOf(s)
	peek := func() (int, []byte, error) {
		var n int
		var err error
		b := make([]byte, 8)
		if cerr := rc.Control(func(fd uintptr) { n, err = Peek(int(fd), b) }); cerr != nil {
			t.Fatal(cerr)
		}
		return n, b[:n], err
	}
	if _, _, err := peek(); err != syscall.EAGAIN {
		t.Fatalf("empty socket: %v", err)
	}
	if _, err := c.Write([]byte("abc")); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, b, err := peek()
		if err == nil && n == 3 && string(b) == "abc" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peek: %d %q %v", n, b, err)
		}
		time.Sleep(time.Millisecond)
	}
	// Peeking consumed nothing.
	got := make([]byte, 3)
	if _, err := io.ReadFull(s, got); err != nil || string(got) != "abc" {
		t.Fatalf("read after peek: %q %v", got, err)
	}
	_ = c.Close()
	deadline = time.Now().Add(5 * time.Second)
	for {
		n, _, err := peek()
		if err == nil && n == 0 {
			break // EOF
		}
		if time.Now().After(deadline) {
			t.Fatalf("EOF not seen: %d %v", n, err)
		}
		time.Sleep(time.Millisecond)
	}
}
