//go:build !unix

package app

// openFileLimit reports no limit (false) where there is no RLIMIT_NOFILE.
func openFileLimit() (int, bool) { return 0, false }
