//go:build unix

package app

import "syscall"

// openFileLimit is the soft limit on open files (RLIMIT_NOFILE).
func openFileLimit() (int, bool) {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil || rl.Cur > 1<<40 {
		return 0, false
	}
	return int(rl.Cur), true
}
