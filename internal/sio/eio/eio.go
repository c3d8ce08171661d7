// Package eio implements Engine.IO protocol v4 (server and client): the
// handshake, HTTP long-polling, the WebSocket transport, the polling to
// WebSocket upgrade and the heartbeat. It moves opaque messages; the
// Socket.IO layer above (package sio) gives them meaning.
package eio

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Errors.
var (
	ErrClosed       = errors.New("eio: session closed")
	ErrSlowConsumer = errors.New("eio: slow consumer")
)

// Close reasons reported to Handler.OnClose (the strings Node's engine.io uses).
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"
	ReasonServerShutdown = "server shutting down"
	ReasonSlowConsumer   = "slow consumer"
	ReasonTooLarge       = "payload too large"
)

// Message is one Engine.IO message packet's payload.
type Message struct {
	Data   []byte
	Binary bool
}

// Config tunes a Server or a client. Zero fields take the defaults below.
type Config struct {
	PingInterval    time.Duration // server: interval between pings (default 25s)
	PingTimeout     time.Duration // server: time to wait for a pong (default 20s)
	MaxPayloadBytes int64         // largest message or polling body (default 1e6, Node's maxHttpBufferSize)
	UpgradeTimeout  time.Duration // polling→websocket upgrade bound (default 10s)
	// Transports allowed: "polling", "websocket" (default both).
	Transports []string
	// SendQueue is the bound on queued outbound messages per session (default 1024).
	SendQueue int
	// StallTimeout is how long Send blocks on a full queue before the session
	// is closed with ReasonSlowConsumer (default 10s).
	StallTimeout time.Duration
	// WriteTimeout bounds each network write (default 10s).
	WriteTimeout time.Duration
	// AllowedOrigins lists origins given CORS headers and allowed to open a
	// WebSocket; "*" allows any. Empty: no CORS headers, any WebSocket origin.
	AllowedOrigins []string
	// AllowRequest, if set, is called before a handshake; an error refuses it
	// with 403 {"code":4,"message":"Forbidden"} (the error text is not sent).
	AllowRequest func(r *http.Request) error
}

// Handler receives one session's events. Calls for one session are
// sequential. OnMessage may block: that pauses reading from this peer
// (backpressure). OnClose is called exactly once.
type Handler interface {
	OnMessage(c *Conn, m Message)
	OnClose(c *Conn, reason string)
}

// Conn is one Engine.IO session, server or client side. Safe for concurrent use.
type Conn struct {
	// implementation fields
	id string
}

// ID returns the session id (sid).
func (c *Conn) ID() string { return c.id }

// Transport returns "polling" or "websocket" (the current one).
func (c *Conn) Transport() string { panic("todo") }

// RemoteAddr returns the peer's address ("ip:port") as seen on the socket.
func (c *Conn) RemoteAddr() string { panic("todo") }

// Header returns the handshake request's headers (server side; read-only).
func (c *Conn) Header() http.Header { panic("todo") }

// Query returns the handshake request's query (server side; read-only).
func (c *Conn) Query() url.Values { panic("todo") }

// Send queues messages in order. Data is not modified or retained past the
// write, and may be shared between sessions. It blocks while the queue is
// full, up to StallTimeout, then closes the session (ReasonSlowConsumer) and
// returns ErrSlowConsumer. After close it returns ErrClosed.
func (c *Conn) Send(msgs ...Message) error { panic("todo") }

// Close sends a close packet (best effort), ends the session and reports
// reason to OnClose. Idempotent.
func (c *Conn) Close(reason string) { panic("todo") }

// Done is closed when the session has ended.
func (c *Conn) Done() <-chan struct{} { panic("todo") }

// Server serves Engine.IO sessions at one path. Mount ServeHTTP at that path
// (exact match, with or without trailing slash).
type Server struct{}

// NewServer returns a Server; accept is called for each new session and
// returns its Handler (before any message is delivered). It starts no goroutines.
func NewServer(cfg Config, logger *slog.Logger, accept func(c *Conn) Handler) *Server {
	panic("todo")
}

// ServeHTTP handles one Engine.IO request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("todo") }

// Len returns the number of open sessions.
func (s *Server) Len() int { panic("todo") }

// Close closes every session with ReasonServerShutdown and refuses new ones.
func (s *Server) Close() { panic("todo") }

// DialConfig configures a client session.
type DialConfig struct {
	Config
	// Path is the engine path (default "/socket.io/").
	Path string
	// Query and Header are added to every request.
	Query  url.Values
	Header http.Header
	// Polling starts with HTTP long-polling and upgrades; default is
	// WebSocket only.
	Polling bool
}

// Dial opens a client session to baseURL (http(s)://host:port). The client
// answers pings and closes the session (ReasonPingTimeout) when none arrives
// within pingInterval+pingTimeout.
func Dial(ctx context.Context, baseURL string, cfg DialConfig, h Handler) (*Conn, error) {
	panic("todo")
}
