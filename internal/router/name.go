package router

import (
	"fmt"
	"unicode"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// ValidateName reports whether name is acceptable as a user or room name:
// not empty, valid UTF-8, no control characters (Unicode category Cc), at
// most maxBytes bytes. The error wraps engine.ErrInvalidName (code
// INVALID_NAME) and says which rule failed.
func ValidateName(name string, maxBytes int64) error {
	switch {
	case name == "":
		return fmt.Errorf("%w: empty", engine.ErrInvalidName)
	case int64(len(name)) > maxBytes:
		return fmt.Errorf("%w: %d bytes, more than %d", engine.ErrInvalidName, len(name), maxBytes)
	}
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if c < 0x20 || c == 0x7f {
				return fmt.Errorf("%w: control character at byte %d", engine.ErrInvalidName, i)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(name[i:])
		if r == utf8.RuneError && size == 1 {
			return fmt.Errorf("%w: not UTF-8 at byte %d", engine.ErrInvalidName, i)
		}
		if unicode.IsControl(r) {
			return fmt.Errorf("%w: control character at byte %d", engine.ErrInvalidName, i)
		}
		i += size
	}
	return nil
}
