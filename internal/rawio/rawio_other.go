//go:build !unix

package rawio

import (
	"errors"
	"net"
	"syscall"
)

// Supported reports whether this platform has the raw calls (Unix). Where
// it does not, Of returns nil and the functions fail with
// errors.ErrUnsupported, so callers use the net.Conn's own methods.
const Supported = false

// Read is not available on this platform.
func Read(int, []byte) (int, error) { return 0, errors.ErrUnsupported }

// Write is not available on this platform.
func Write(int, []byte) (int, error) { return 0, errors.ErrUnsupported }

// Conn is not available on this platform: Of always returns nil.
type Conn struct{}

// Of returns nil: use nc's own methods.
func Of(net.Conn) *Conn { return nil }

// NewConn returns nil: use the net.Conn's own methods.
func NewConn(syscall.RawConn) *Conn { return nil }

// Read is never reached (there is no Conn).
func (*Conn) Read([]byte) (int, error) { return 0, errors.ErrUnsupported }

// Write is never reached (there is no Conn).
func (*Conn) Write([]byte) (int, error) { return 0, errors.ErrUnsupported }

// WriteBuffers is never reached (there is no Conn).
func (*Conn) WriteBuffers(*net.Buffers) (int64, error) { return 0, errors.ErrUnsupported }

// Shutdown is not available on this platform.
func Shutdown(int) error { return errors.ErrUnsupported }
