package rawio

import "syscall"

// On linux/386 the socket calls have no system-call numbers of their own
// (they go through socketcall(2)), so package syscall makes them, with
// its usual bookkeeping.

// recvPeek is recv(2) with MSG_PEEK|MSG_DONTWAIT.
func recvPeek(fd int, p []byte) (int, error) {
	for {
		n, _, err := syscall.Recvfrom(fd, p, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return n, nil
	}
}

// setsockoptInt sets an int option.
func setsockoptInt(fd, level, opt, n int) error {
	return syscall.SetsockoptInt(fd, level, opt, n)
}

// recvTrunc drops up to n queued bytes of the socket fd by reading them
// into a scratch buffer (at most its size per call).
func recvTrunc(fd, n int) (int, error) {
	var buf [4096]byte
	for {
		m, _, err := syscall.Recvfrom(fd, buf[:min(n, len(buf))], syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return 0, err
		}
		return m, nil
	}
}
