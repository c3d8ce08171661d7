//go:build !unix

package rawio

import (
	"errors"
	"net"
	"syscall"
)

// This platform has no raw calls: RawConnOf and Of return nil, so callers
// use the net.Conn's own methods, and the functions fail with
// errors.ErrUnsupported.

// Read is not available on this platform.
func Read(int, []byte) (int, error) { return 0, errors.ErrUnsupported }

// Write is not available on this platform.
func Write(int, []byte) (int, error) { return 0, errors.ErrUnsupported }

// Peek is not supported here.
func Peek(int, []byte) (int, error) { return 0, errors.ErrUnsupported }

// Conn is not available on this platform: Of always returns nil.
type Conn struct{}

// RawConnOf returns nil: use nc's own methods.
func RawConnOf(net.Conn) syscall.RawConn { return nil }

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
