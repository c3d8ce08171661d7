//go:build unix

package app

import "syscall"

// openFileLimit is the soft limit on open files (RLIMIT_NOFILE); false when
// it cannot be read or is too large to bind (unlimited, for practical
// purposes, and beyond an int on 32-bit platforms).
func openFileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<30 {
		return 0, false
	}
	return int(rl.Cur), true
}
