package rawio

import (
	"syscall"
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
	for {
		r, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(epfd),
			uintptr(unsafe.Pointer(unsafe.SliceData(events))), uintptr(len(events)), 0, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}
