package priority

import (
	"errors"
	"strings"
	"syscall"
	"testing"
)

func TestDescribe(t *testing.T) {
	err := describe(-5, syscall.EPERM)
	if !errors.Is(err, syscall.EPERM) || !strings.Contains(err.Error(), "CAP_SYS_NICE") || !strings.Contains(err.Error(), "-5") {
		t.Errorf("refused: %v", err)
	}
	if err := describe(3, syscall.EINVAL); !errors.Is(err, syscall.EINVAL) || strings.Contains(err.Error(), "CAP_SYS_NICE") {
		t.Errorf("other error: %v", err)
	}
}
