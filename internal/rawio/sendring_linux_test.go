//go:build linux && !(mips || mipsle || mips64 || mips64le)

package rawio

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
)

// fdOf is c's descriptor; the test keeps c open while it is used.
func fdOf(t *testing.T, c *net.TCPConn) int {
	t.Helper()
	fd := -1
	if err := RawConnOf(c).Control(func(v uintptr) { fd = int(v) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

func newRing(t *testing.T, n int) *SendRing {
	t.Helper()
	r, err := NewSendRing(n)
	if err != nil {
		t.Skipf("io_uring unavailable here (%v): the proxy falls back to write(2), tested with the ring off", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestSendRing: one Submit sends each buffer to its own socket, and every
// result says what that socket took.
func TestSendRing(t *testing.T) {
	r := newRing(t, 8)
	if r.Cap() != 8 || r.Len() != 0 {
		t.Fatalf("cap %d len %d", r.Cap(), r.Len())
	}
	if err := r.Submit(); err != nil {
		t.Fatalf("empty submit: %v", err)
	}
	var senders, receivers []*net.TCPConn
	for range 3 {
		c, s := pair(t)
		senders, receivers = append(senders, c), append(receivers, s)
	}
	msgs := [][]byte{[]byte("first"), []byte("second message"), bytes.Repeat([]byte{'z'}, 3000)}
	for round := range 2 { // the ring's queue wraps and is reused
		for i, c := range senders {
			if got := r.Send(fdOf(t, c), msgs[i]); got != i {
				t.Fatalf("index %d, want %d", got, i)
			}
		}
		if r.Len() != 3 {
			t.Fatalf("len %d", r.Len())
		}
		if err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		if r.Len() != 0 {
			t.Fatalf("len after submit %d", r.Len())
		}
		for i, s := range receivers {
			if n, err := r.Result(i); n != len(msgs[i]) || err != nil {
				t.Fatalf("round %d send %d: %d, %v", round, i, n, err)
			}
			got := make([]byte, len(msgs[i]))
			if _, err := io.ReadFull(s, got); err != nil || !bytes.Equal(got, msgs[i]) {
				t.Fatalf("round %d socket %d got %q, %v", round, i, got[:min(len(got), 20)], err)
			}
		}
	}
}

// TestSendRingFullSocket: a socket that cannot take everything takes what
// fits, then nothing (EAGAIN): the ring never waits. A bad descriptor
// fails its own send only.
func TestSendRingFullSocket(t *testing.T) {
	r := newRing(t, 4)
	c, s := pair(t)
	if err := c.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := s.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{'b'}, 8<<20)
	ok, okS := pair(t)
	r.Send(fdOf(t, c), big)
	r.Send(-1, []byte("x"))
	r.Send(fdOf(t, ok), []byte("fine"))
	if err := r.Submit(); err != nil {
		t.Fatal(err)
	}
	n, err := r.Result(0)
	if err != nil || n <= 0 || n >= len(big) {
		t.Fatalf("big send: %d, %v: want part of it", n, err)
	}
	if _, err := r.Result(1); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("bad descriptor: %v", err)
	}
	if n, err := r.Result(2); n != 4 || err != nil {
		t.Fatalf("the other socket: %d, %v", n, err)
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(okS, got); err != nil || string(got) != "fine" {
		t.Fatalf("got %q, %v", got, err)
	}
	// Nobody reads s: the socket fills up within a few sends.
	sent := n
	for range 1000 {
		r.Send(fdOf(t, c), big[sent:])
		if err := r.Submit(); err != nil {
			t.Fatal(err)
		}
		m, err := r.Result(0)
		if errors.Is(err, syscall.EAGAIN) && m == 0 {
			return
		}
		if err != nil || m <= 0 {
			t.Fatalf("send into a filling socket: %d, %v", m, err)
		}
		sent += m
	}
	t.Fatalf("a socket nobody reads took %d bytes and never said EAGAIN", sent)
}

// TestSendRingFull: queuing past Cap is a programming error.
func TestSendRingFull(t *testing.T) {
	r := newRing(t, 1)
	c, _ := pair(t)
	r.Send(fdOf(t, c), []byte("a"))
	defer func() {
		if recover() == nil {
			t.Fatal("no panic past Cap")
		}
	}()
	r.Send(fdOf(t, c), []byte("b"))
}

func TestNewSendRingBadSize(t *testing.T) {
	for _, n := range []int{0, -1, 5000} {
		if _, err := NewSendRing(n); err == nil {
			t.Fatalf("size %d accepted", n)
		}
	}
}
