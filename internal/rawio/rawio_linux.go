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
	// epoll_pwait(epfd, events, maxevents, timeout 0, no signal mask).
	return call(syscall.SYS_EPOLL_PWAIT, epfd, unsafe.Pointer(unsafe.SliceData(events)), len(events), 0)
}
