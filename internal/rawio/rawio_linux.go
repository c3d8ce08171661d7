package rawio

import (
	"os"
	"syscall"
	"time"
	"unsafe"
)

// EpollWait is a non-blocking epoll_wait(2) (timeout 0) on the epoll
// descriptor epfd, filling events. It retries EINTR. A zero timeout never
// sleeps in the kernel, so, like Read and Write, it skips the runtime's
// system-call hand-off, which would wake sysmon on every poll of a busy
// event loop.
func EpollWait(epfd int, events []syscall.EpollEvent) (int, error) {
	if len(events) == 0 {
		return 0, nil
	}
	// epoll_pwait(epfd, events, maxevents, timeout 0, no signal mask).
	return call(syscall.SYS_EPOLL_PWAIT, epfd, unsafe.Pointer(unsafe.SliceData(events)), len(events), 0)
}

// Discard drops the next n bytes of the TCP socket fd's receive queue
// without copying them where the platform allows (MSG_TRUNC). It returns
// how many it dropped: fewer than n only when fewer are queued. A reader
// that peeked at bytes (Peek) consumes them with it once it has used them.
func Discard(fd, n int) (int, error) {
	done := 0
	for done < n {
		m, err := recvTrunc(fd, n-done)
		if err != nil || m <= 0 {
			return done, err
		}
		done += m
	}
	return done, nil
}

// SetRcvLowat sets the socket's receive low-water mark (SO_RCVLOWAT): the
// kernel reports a TCP socket readable, and wakes its pollers, only once n
// bytes are queued (or the peer closed, or memory runs short), while a
// non-blocking read still returns whatever is queued. A reader that polls
// on a timer raises it to sleep through small arrivals, and must lower it
// back to 1 before it waits for readability again.
func SetRcvLowat(fd, n int) error {
	return setsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVLOWAT, n)
}

// NewTicker returns a periodic timer as a file the runtime's poller waits
// on (a non-blocking timerfd on CLOCK_MONOTONIC): each Read of 8 bytes
// blocks until the next expiry and returns how many have passed since the
// last Read, as a native-endian uint64. Unlike a runtime timer, whose
// sleep is rounded up to a whole millisecond when the process is otherwise
// idle (the netpoller's epoll timeout), it wakes the process on time for
// periods under a millisecond. Close stops it.
func NewTicker(period time.Duration) (*os.File, error) {
	if period <= 0 {
		return nil, syscall.EINVAL
	}
	fd, _, e := syscall.RawSyscall(syscall.SYS_TIMERFD_CREATE, clockMonotonic, syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
	if e != 0 {
		return nil, os.NewSyscallError("timerfd_create", e)
	}
	ts := syscall.NsecToTimespec(int64(period))
	spec := [2]syscall.Timespec{ts, ts} // interval, first expiry
	if _, _, e := syscall.RawSyscall6(syscall.SYS_TIMERFD_SETTIME, fd, 0, uintptr(unsafe.Pointer(&spec)), 0, 0, 0); e != 0 {
		syscall.Close(int(fd))
		return nil, os.NewSyscallError("timerfd_settime", e)
	}
	return os.NewFile(fd, "timerfd"), nil
}

// clockMonotonic is CLOCK_MONOTONIC (not in package syscall).
const clockMonotonic = 1
