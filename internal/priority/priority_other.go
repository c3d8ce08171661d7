//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

package priority

import (
	"fmt"
	"runtime"
)

// Set reports that niceness cannot be set on this system.
func Set(nice int) error {
	return fmt.Errorf("priority: niceness %d: not supported on %s", nice, runtime.GOOS)
}
