//go:build !unix

package app

// openFileLimit reports no limit where there is no RLIMIT_NOFILE.
func openFileLimit() (int, bool) { return 0, false }
