package rawio

import (
	"errors"
	"syscall"
	"testing"
	"time"
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
