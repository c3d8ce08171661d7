//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package priority

import "syscall"

// Set gives the process niceness nice.
func Set(nice int) error {
	if err := syscall.Setpriority(syscall.PRIO_PROCESS, 0, nice); err != nil {
		return describe(nice, err)
	}
	return nil
}
