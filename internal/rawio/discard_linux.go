//go:build linux && !386

package rawio

import "syscall"

// Discard drops the next n bytes of the TCP socket fd's receive queue
// without copying them (recv(2) with MSG_TRUNC|MSG_DONTWAIT, a raw call).
// It returns how many it dropped: fewer than n only when fewer are queued.
// A reader that peeked at bytes (Peek) consumes them with it once it has
// used them.
func Discard(fd, n int) (int, error) {
	done := 0
	for done < n {
		m, err := call(syscall.SYS_RECVFROM, fd, nil, n-done, syscall.MSG_TRUNC|syscall.MSG_DONTWAIT)
		if err != nil || m == 0 {
			return done, err
		}
		done += m
	}
	return done, nil
}
