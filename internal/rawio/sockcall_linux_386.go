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

// Discard drops the next n bytes of the socket fd's receive queue (see the
// other platforms' Discard). Here it reads them into a scratch buffer.
func Discard(fd, n int) (int, error) {
	var buf [4096]byte
	done := 0
	for done < n {
		m, _, err := syscall.Recvfrom(fd, buf[:min(n-done, len(buf))], syscall.MSG_DONTWAIT)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || m <= 0 {
			return done, err
		}
		done += m
	}
	return done, nil
}
