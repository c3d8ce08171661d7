package priority

import (
	"errors"
	"fmt"
	"syscall"
)

// describe turns a refused change into an error that says what is missing.
func describe(nice int, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("priority: niceness %d needs root or CAP_SYS_NICE (or a RLIMIT_NICE that allows it): %w", nice, err)
	}
	return fmt.Errorf("priority: set niceness %d: %w", nice, err)
}
