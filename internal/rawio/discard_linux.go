//go:build linux && !386

package rawio

import "syscall"

// recvTrunc drops up to n queued bytes of the TCP socket fd without
// copying them (recv(2) with MSG_TRUNC|MSG_DONTWAIT, a raw call).
func recvTrunc(fd, n int) (int, error) {
	return call(syscall.SYS_RECVFROM, fd, nil, n, syscall.MSG_TRUNC|syscall.MSG_DONTWAIT)
}
