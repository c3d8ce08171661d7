//go:build unix && !(linux && 386)

package rawio

import (
	"syscall"
	"unsafe"
)

// recvPeek is recv(2) with MSG_PEEK|MSG_DONTWAIT, a raw call.
func recvPeek(fd int, p []byte) (int, error) {
	return call(syscall.SYS_RECVFROM, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
}

// setsockoptInt sets an int option with a raw call.
func setsockoptInt(fd, level, opt, n int) error {
	v := int32(n)
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), uintptr(level), uintptr(opt),
		uintptr(unsafe.Pointer(&v)), unsafe.Sizeof(v), 0)
	if e != 0 {
		return e
	}
	return nil
}
