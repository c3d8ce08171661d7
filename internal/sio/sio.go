// Package sio implements Socket.IO protocol v5 on top of Engine.IO v4
// (package eio): namespaces, events, acknowledgements and binary
// attachments, for a Server that any part of Switchboard mounts at a path,
// and a Client (with automatic reconnection) in the same family.
//
// Payloads stay raw: arguments are json.RawMessage and binary attachments
// []byte, so a relay never decodes what it forwards.
//
// Concurrency: the Engine.IO layer gives each session one reader; every
// handler of that session (events, acks, connect hooks) runs in it, one at
// a time, so a blocking handler pauses reads from that peer (backpressure).
// A handler must therefore not wait for an ack from its own connection
// (EmitWithAck to the same socket): the ack cannot be read until it
// returns, so the wait ends only with the timeout.
//
// Locks: Server.mu, Namespace.mu, conn.mu, Socket/ClientSocket state locks
// and ackTable.mu are leaves: no lock is held while another is taken,
// while calling a handler or while sending.
package sio

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Errors.
var (
	ErrClosed       = errors.New("sio: socket closed")
	ErrSlowConsumer = eio.ErrSlowConsumer
	ErrAckTimeout   = errors.New("sio: ack timeout")
	// ErrNotConnected is returned by ClientSocket emits while the namespace
	// is not connected (the client does not buffer).
	ErrNotConnected = errors.New("sio: not connected")
	// ErrTooManyAcks is returned by EmitWithAck when the socket already
	// waits for Config.MaxPendingAcks acknowledgements.
	ErrTooManyAcks = errors.New("sio: too many pending acks")
	// ErrNamespace is returned by Socket.Send for a packet encoded for another namespace.
	ErrNamespace = errors.New("sio: packet encoded for another namespace")
)

// Disconnect reasons (the strings socket.io uses), reported to OnDisconnect.
const (
	ReasonServerDisconnect = "server namespace disconnect" // server called Disconnect; clients do not reconnect
	ReasonClientDisconnect = "client namespace disconnect"
	ReasonServerShutdown   = "server shutting down"
	ReasonPingTimeout      = "ping timeout"
	ReasonTransportClose   = "transport close"
	ReasonTransportError   = "transport error"
	ReasonParseError       = "parse error"
	ReasonSlowConsumer     = "slow consumer"
	// ReasonTooLarge: a message, or a packet's attachments, exceeded the limits.
	ReasonTooLarge = eio.ReasonTooLarge
	// ReasonConnectTimeout closes an Engine.IO session that connected no
	// namespace within Config.ConnectTimeout.
	ReasonConnectTimeout = "connect timeout"

	// Client side (ClientSocket.OnDisconnect), as the npm client names them.
	ReasonIOServerDisconnect = "io server disconnect" // the server sent DISCONNECT: no reconnection
	ReasonIOClientDisconnect = "io client disconnect" // Client.Close
)

// Message is the payload of an event (after its name) or of an ack: a list
// of JSON arguments, in which binary arguments appear as placeholders
// {"_placeholder":true,"num":N} indexing Attachments (see Placeholder).
// Received messages own their bytes: handlers may keep them.
type Message struct {
	Args        []json.RawMessage
	Attachments [][]byte
	// Valid says the sender vouches that every argument is one valid JSON
	// value, built from parts it had validated, so encoding does not scan
	// them again. A false claim makes the peer drop the connection.
	Valid bool
}

// Placeholder returns the argument standing for Attachments[n].
func Placeholder(n int) json.RawMessage { return codec.AppendPlaceholder(nil, n) }

// Binary returns a Message whose arguments are placeholders for each of
// atts in order.
func Binary(atts ...[]byte) Message {
	m := Message{Args: make([]json.RawMessage, len(atts)), Attachments: atts}
	for i := range atts {
		m.Args[i] = Placeholder(i)
	}
	return m
}

// Args returns a Message of JSON arguments.
func Args(args ...json.RawMessage) Message { return Message{Args: args} }

// Ack answers an event that asked for an acknowledgement. Calling it more
// than once is a no-op after the first.
type Ack func(m Message) error

// Handler handles one event. ack is nil when the sender asked for none.
// Handlers for one socket run sequentially in its reader goroutine: while
// one blocks, that peer's reads pause.
type Handler func(s *Socket, m Message, ack Ack)

// Config tunes a Server.
type Config struct {
	eio.Config
	// ConnectTimeout bounds the time between the Engine.IO handshake and the
	// first namespace CONNECT (default 45s, as socket.io); a session whose
	// last namespace disconnected is closed after the same delay.
	ConnectTimeout time.Duration
	// AckTimeout is the default bound for EmitWithAck when ctx has no deadline (default 10s).
	AckTimeout time.Duration
	// MaxPendingAcks bounds the acks one socket waits for (default 1024).
	MaxPendingAcks int
	// MaxAttachments bounds the binary attachments of one packet (default 10, as npm's socket.io-parser, which refuses more);
	// their total size is bounded by MaxPayloadBytes.
	MaxAttachments int
}

// Defaults.
const (
	DefaultConnectTimeout = 45 * time.Second
	DefaultAckTimeout     = 10 * time.Second
	DefaultMaxPendingAcks = 1024
	DefaultMaxAttachments = codec.DefaultMaxAttachments
)

func (c Config) withDefaults() Config {
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxPendingAcks <= 0 {
		c.MaxPendingAcks = DefaultMaxPendingAcks
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = DefaultMaxAttachments
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 1_000_000
	}
	return c
}

// ConnectError refuses a CONNECT with a message and optional JSON data.
type ConnectError struct {
	Message string
	Data    json.RawMessage
}

func (e *ConnectError) Error() string { return e.Message }

// mapSendErr turns eio errors into this package's.
func mapSendErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, eio.ErrSlowConsumer):
		return ErrSlowConsumer
	case errors.Is(err, eio.ErrClosed):
		return ErrClosed
	}
	return err
}

// estimateSize sizes an encoding buffer so the append rarely grows it.
func estimateSize(nsp, event string, args []json.RawMessage) int {
	n := 24 + len(nsp) + len(event)
	for _, a := range args {
		n += len(a) + 1
	}
	return n
}

// appendEvent appends m as an EVENT packet (see codec.AppendEvent).
func appendEvent(dst []byte, nsp string, id int64, event string, m Message) ([]byte, error) {
	if m.Valid {
		return codec.AppendEventNoCheck(dst, nsp, id, event, m.Args, len(m.Attachments))
	}
	return codec.AppendEvent(dst, nsp, id, event, m.Args, len(m.Attachments))
}

// appendAck appends m as an ACK packet (see codec.AppendAck).
func appendAck(dst []byte, nsp string, id int64, m Message) ([]byte, error) {
	if m.Valid {
		return codec.AppendAckNoCheck(dst, nsp, id, m.Args, len(m.Attachments))
	}
	return codec.AppendAck(dst, nsp, id, m.Args, len(m.Attachments))
}
