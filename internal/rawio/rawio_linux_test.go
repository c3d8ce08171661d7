package rawio

import (
	"errors"
	"io"
	"os"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

func TestEpollWait(t *testing.T) {
	c, s := pair(t)
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ep)
	rc := RawConnOf(s)
	var ctlErr error
	if err := rc.Control(func(fd uintptr) {
		ctlErr = syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, int(fd), &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: 7})
	}); err != nil || ctlErr != nil {
		t.Fatal(err, ctlErr)
	}
	evs := make([]syscall.EpollEvent, 4)
	if n, err := EpollWait(ep, evs); n != 0 || err != nil {
		t.Fatalf("nothing ready: %d, %v", n, err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	// Loopback delivery is synchronous, but allow the kernel a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := EpollWait(ep, evs)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			if evs[0].Fd != 7 || evs[0].Events&syscall.EPOLLIN == 0 {
				t.Fatalf("event %+v", evs[0])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("readable socket never reported")
		}
		time.Sleep(time.Millisecond)
	}
	if n, err := EpollWait(ep, nil); n != 0 || err != nil {
		t.Fatalf("no room for events: %d, %v", n, err)
	}
	if _, err := EpollWait(-1, evs); !errors.Is(err, syscall.EBADF) {
		t.Fatalf("bad descriptor: %v", err)
	}
}

// TestSetRcvLowat: with the mark raised, a few bytes do not make the
// socket readable, yet a non-blocking read returns them; lowered back to
// one byte, the next arrival does.
func TestSetRcvLowat(t *testing.T) {
	c, s := pair(t)
	rc, err := s.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int
	_ = rc.Control(func(f uintptr) { fd = int(f) })
	readable := func() bool {
		t.Helper()
		pfd := []pollFd{{fd: int32(fd), events: pollIn}}
		n, err := pollNow(pfd)
		if err != nil {
			t.Fatal(err)
		}
		return n > 0
	}
	if err := SetRcvLowat(fd, 4096); err != nil {
		t.Fatal(err)
	}
	if got, err := syscall.GetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT); err != nil || got != 4096 {
		t.Fatalf("SO_RCVLOWAT = %d, %v; want 4096", got, err)
	}
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for n == 0 { // the bytes cross loopback asynchronously
		if readable() {
			t.Fatal("5 bytes made the socket readable under a 4096-byte mark")
		}
		if n, err = Read(fd, buf); err != nil && err != syscall.EAGAIN {
			t.Fatal(err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the bytes never arrived")
		}
	}
	if string(buf[:n]) != "hello" {
		t.Fatalf("read %q", buf[:n])
	}
	if err := SetRcvLowat(fd, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	for !readable() {
		if time.Now().After(deadline) {
			t.Fatal("one byte under a 1-byte mark never made the socket readable")
		}
		time.Sleep(time.Millisecond)
	}
}

type pollFd struct {
	fd      int32
	events  int16
	revents int16
}

const pollIn = 0x1

// pollNow reports how many of fds are ready, without waiting: ppoll(2)
// with a zero timeout (poll(2) has no number on arm64 or riscv64).
func pollNow(fds []pollFd) (int, error) {
	var zero syscall.Timespec
	n, _, e := syscall.Syscall6(syscall.SYS_PPOLL, uintptr(unsafe.Pointer(&fds[0])), uintptr(len(fds)), uintptr(unsafe.Pointer(&zero)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}

func TestNewTicker(t *testing.T) {
	if _, err := NewTicker(0); err == nil {
		t.Fatal("a zero period was accepted")
	}
	const period = 2 * time.Millisecond
	f, err := NewTicker(period)
	if err != nil {
		t.Fatal(err)
	}
	// Each read blocks in the runtime's poller until an expiry and counts
	// the expiries since the previous read: never zero, and in all at least
	// as many as the whole periods that had passed when the last read began
	// (the timer started before start).
	start := time.Now()
	var total uint64
	var b [8]byte
	var before time.Duration
	for range 3 {
		before = time.Since(start)
		if n, err := f.Read(b[:]); n != 8 || err != nil {
			t.Fatalf("read: %d, %v", n, err)
		}
		n := *(*uint64)(unsafe.Pointer(&b[0]))
		if n == 0 {
			t.Fatal("a read returned with no expiry")
		}
		total += n
	}
	if passed := uint64(before / period); total < passed {
		t.Errorf("%d expiries counted in %d periods", total, passed)
	}
	// Close wakes no one and stops the timer; a read after it fails.
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Read(b[:]); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("read after close: %v", err)
	}
}

// TestDiscard: Discard drops exactly the bytes asked for (the ones a peek
// showed), leaves the rest queued, and reports fewer when fewer are there.
func TestDiscard(t *testing.T) {
	c, s := pair(t)
	rc := RawConnOf(s)
	if _, err := c.Write([]byte("hello world")); err != nil {
		t.Fatal(err)
	}
	var n int
	var err error
	buf := make([]byte, 5)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = rc.Control(func(fd uintptr) { n, err = Peek(int(fd), buf) })
		if err == nil && n == 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("peek: %d %v", n, err)
		}
		time.Sleep(time.Millisecond)
	}
	_ = rc.Control(func(fd uintptr) { n, err = Discard(int(fd), 5) })
	if n != 5 || err != nil {
		t.Fatalf("Discard(5) = %d, %v", n, err)
	}
	rest := make([]byte, 6)
	if _, err := io.ReadFull(s, rest); err != nil || string(rest) != " world" {
		t.Fatalf("after Discard: %q %v", rest, err)
	}
	_ = rc.Control(func(fd uintptr) { n, err = Discard(int(fd), 3) })
	if n != 0 || err != syscall.EAGAIN {
		t.Fatalf("Discard on an empty socket = %d, %v; want 0, EAGAIN", n, err)
	}
}
