// Package ws implements the WebSocket protocol (RFC 6455) for Switchboard:
// the server handshake over net/http, a client dialer, message framing with
// size limits, and a frame-boundary scanner for proxies that tunnel raw
// WebSocket bytes. It does not implement extensions (permessage-deflate is
// declined during the handshake) or subprotocol negotiation beyond echoing one.
package ws

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// Opcodes (RFC 6455 §5.2).
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xA
)

// Close status codes (RFC 6455 §7.4.1).
const (
	CloseNormal          = 1000
	CloseGoingAway       = 1001
	CloseProtocolError   = 1002
	CloseUnsupportedData = 1003
	CloseNoStatus        = 1005
	CloseAbnormal        = 1006
	CloseInvalidPayload  = 1007
	ClosePolicyViolation = 1008
	CloseMessageTooBig   = 1009
	CloseInternalError   = 1011
)

// Errors returned by Conn.
var (
	ErrClosed       = errors.New("ws: connection closed")
	ErrTooBig       = errors.New("ws: message exceeds limit")
	ErrBadHandshake = errors.New("ws: bad handshake")
)

// CloseError is returned by ReadMessage when the peer sent a Close frame.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string { return "ws: closed by peer: " + itoa(e.Code) + " " + e.Reason }

// Config tunes a connection. The zero value is usable.
type Config struct {
	// MaxMessageBytes bounds one reassembled message (default 1 MiB).
	// A larger message closes the connection with 1009.
	MaxMessageBytes int64
	// WriteTimeout bounds each write (default 10s).
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the client's dial + handshake (default 10s).
	HandshakeTimeout time.Duration
	// CheckOrigin, if set, must return true for Accept to proceed; otherwise
	// Accept answers 403. Nil accepts every origin.
	CheckOrigin func(r *http.Request) bool
}

// Conn is one WebSocket connection. ReadMessage must be called from one
// goroutine at a time; WriteMessage, WriteClose and Close are safe for
// concurrent use. An idle Conn holds no read buffer.
type Conn struct {
	// fields owned by the implementation
	nc net.Conn
}

// IsUpgrade reports whether r asks for a WebSocket upgrade.
func IsUpgrade(r *http.Request) bool { panic("todo") }

// Accept completes the server handshake on w (which must support Hijack).
// On failure it has already written an HTTP error response (400/403/426)
// and returns an error wrapping ErrBadHandshake.
func Accept(w http.ResponseWriter, r *http.Request, cfg Config) (*Conn, error) { panic("todo") }

// Dial opens a client connection to rawURL (ws://, wss://, http:// or https://).
// h carries extra request headers (may be nil).
func Dial(ctx context.Context, rawURL string, h http.Header, cfg Config) (*Conn, error) {
	panic("todo")
}

// ReadMessage returns the next complete data message (OpText or OpBinary).
// It answers pings, skips pongs, reassembles fragments, and on a Close frame
// replies with Close and returns *CloseError. The returned slice is owned by
// the caller.
func (c *Conn) ReadMessage() (op int, p []byte, err error) { panic("todo") }

// WriteMessage sends one unfragmented data message.
func (c *Conn) WriteMessage(op int, p []byte) error { panic("todo") }

// WriteClose sends a Close frame with code and reason; it does not close the TCP connection.
func (c *Conn) WriteClose(code int, reason string) error { panic("todo") }

// Close closes the underlying connection. Idempotent.
func (c *Conn) Close() error { panic("todo") }

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// SetReadDeadline sets the deadline for ReadMessage.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

func itoa(n int) string { panic("todo") }
