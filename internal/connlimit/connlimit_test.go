package connlimit

import (
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func TestCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	full := 0
	l := New(ln, 2, func() { full++ })
	defer l.Close()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		defer c.Close()
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if l.Open() != 2 || l.Max() != 2 {
		t.Fatalf("open %d max %d", l.Open(), l.Max())
	}
	// The raw socket paths still find what they need.
	if _, ok := a.(syscall.Conn); !ok {
		t.Fatal("accepted conn lost SyscallConn")
	}
	if _, ok := a.(interface{ CloseWrite() error }); !ok {
		t.Fatal("accepted conn lost CloseWrite")
	}

	third := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		third <- c
	}()
	select {
	case <-third:
		t.Fatal("a third connection was accepted at a cap of 2")
	case <-time.After(100 * time.Millisecond):
	}
	_ = a.Close()
	_ = a.Close() // a second Close frees nothing more
	c := testutil.Recv(t, third, "the third accept", 10*time.Second)
	if c == nil {
		t.Fatal("third accept failed")
	}
	defer c.Close()
	if l.Open() != 2 || l.Waits() != 1 || full != 1 {
		t.Fatalf("open %d waits %d onFull %d", l.Open(), l.Waits(), full)
	}
	_ = b.Close()
	_ = c.Close()
	if l.Open() != 0 {
		t.Fatalf("open %d after closing all", l.Open())
	}
	_ = clients
}

func TestCloseWhileWaiting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, 1, nil)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // usually waiting by now; either way Accept must fail
	_ = l.Close()
	if err := testutil.Recv(t, errc, "Accept after Close", 10*time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	// A failed accept gives its slot back: the listener is closed, so
	// Accept fails at once rather than waiting.
	_ = a.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept on a closed listener succeeded")
	}
}
