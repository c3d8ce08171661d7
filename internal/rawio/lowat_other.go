//go:build !linux

package rawio

import "errors"

// SetRcvLowat is supported on Linux only; elsewhere it fails with
// errors.ErrUnsupported, and callers that poll on a timer do not.
func SetRcvLowat(fd, n int) error { return errors.ErrUnsupported }
