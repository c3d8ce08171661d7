//go:build !linux

package rawio

import (
	"errors"
	"os"
	"time"
)

// SetRcvLowat is supported on Linux only; elsewhere it fails with
// errors.ErrUnsupported, and callers that poll on a timer do not.
func SetRcvLowat(fd, n int) error { return errors.ErrUnsupported }

// NewTicker is supported on Linux only; elsewhere it fails with
// errors.ErrUnsupported, and callers use a runtime timer.
func NewTicker(time.Duration) (*os.File, error) { return nil, errors.ErrUnsupported }

// Discard is supported on Linux only (MSG_TRUNC on TCP drops bytes there);
// elsewhere it fails with errors.ErrUnsupported.
func Discard(fd, n int) (int, error) { return 0, errors.ErrUnsupported }
