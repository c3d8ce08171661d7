package ws

import (
	"crypto/tls"
	"errors"
	"net/http"
	"strconv"
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
	// ErrProtocol wraps every RFC 6455 framing violation by the peer; the
	// connection was closed with 1002.
	ErrProtocol = errors.New("ws: protocol error")
	// ErrInvalidUTF8 reports a text message or close reason that is not valid
	// UTF-8; the connection was closed with 1007.
	ErrInvalidUTF8 = errors.New("ws: invalid UTF-8 in text message")
)

// CloseError is returned by ReadMessage when the peer sent a Close frame.
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	return "ws: closed by peer: " + strconv.Itoa(e.Code) + " " + e.Reason
}

// Config tunes a connection. The zero value is usable.
type Config struct {
	// MaxMessageBytes bounds one reassembled message (default 1 MiB).
	// A larger message closes the connection with 1009.
	MaxMessageBytes int64
	// WriteTimeout bounds each write (default 10s): a write blocked that
	// long fails and closes the connection. The deadline is moved lazily
	// (by 1.25 × WriteTimeout once less than WriteTimeout is left), so a
	// write may block up to 1.25 × WriteTimeout. Do not set write deadlines
	// on NetConn yourself.
	WriteTimeout time.Duration
	// HandshakeTimeout bounds the client's dial + handshake (default 10s).
	HandshakeTimeout time.Duration
	// CheckOrigin, if set, must return true for Accept to proceed; otherwise
	// Accept answers 403. Nil accepts every origin.
	CheckOrigin func(r *http.Request) bool
	// TLS configures the client's TLS for wss:// and https:// URLs (nil:
	// crypto/tls defaults). It is cloned; ServerName defaults to the URL's
	// host.
	TLS *tls.Config
	// ReadCoalesce, when positive, lets ReadMessages gather a busy peer's
	// messages for up to this long instead of waking for each one (Linux;
	// elsewhere it is ignored). A connection is busy when it has read three
	// times within one period. It then raises the socket's receive
	// low-water mark, so small arrivals no longer wake the process, and
	// reads on a clock of this period shared by every connection: one
	// wake-up serves every busy connection at once. The clock ticks from a
	// kernel timer (a runtime timer runs up to a millisecond late whenever
	// the process is idle). Four reads in a row that find nothing lower the
	// mark and go back to waiting for readability; so do four in a row that
	// bring one message each, since that peer waits for each answer and the
	// clock would answer it once per period. Coalescing may then not start
	// again for 64 periods, twice as long after each such spell in which no
	// poll brought more than one message, up to 4096. It adds
	// at most one period to a message's delay, and only while messages
	// arrive faster than that. The readers one tick wakes run their idle
	// hooks (ReadMessagesIdle) together once the last is done, so writes
	// their bursts deferred there reach each peer in one system call.
	ReadCoalesce time.Duration
}

// Defaults applied to zero Config fields.
const (
	DefaultMaxMessageBytes  = 1 << 20
	DefaultWriteTimeout     = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
)

// withDefaults returns cfg with zero (or negative) fields replaced by defaults.
func (cfg Config) withDefaults() Config {
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = DefaultHandshakeTimeout
	}
	return cfg
}
