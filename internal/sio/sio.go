// Package sio implements Socket.IO protocol v5 on top of Engine.IO v4
// (package eio): namespaces, events, acknowledgements and binary
// attachments, for a Server that any part of Switchboard mounts at a path,
// and a Client (with automatic reconnection) in the same family.
//
// Payloads stay raw: arguments are json.RawMessage and binary attachments
// []byte, so a relay never decodes what it forwards.
package sio

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Errors.
var (
	ErrClosed       = errors.New("sio: socket closed")
	ErrSlowConsumer = eio.ErrSlowConsumer
	ErrAckTimeout   = errors.New("sio: ack timeout")
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
)

// Message is the payload of an event (after its name) or of an ack: a list
// of JSON arguments, in which binary arguments appear as placeholders
// {"_placeholder":true,"num":N} indexing Attachments.
type Message struct {
	Args        []json.RawMessage
	Attachments [][]byte
}

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
	// first namespace CONNECT (default 45s, as socket.io).
	ConnectTimeout time.Duration
	// AckTimeout is the default bound for EmitWithAck when ctx has no deadline (default 10s).
	AckTimeout time.Duration
}

// Server is a Socket.IO server. Register namespaces with Of before serving.
type Server struct{}

// NewServer returns a Server. It starts no goroutines.
func NewServer(cfg Config, logger *slog.Logger) *Server { panic("todo") }

// ServeHTTP handles the engine path (mount it at exactly that path).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { panic("todo") }

// Of returns the namespace nsp ("/" or "/name"), creating it. Namespaces
// not created are refused with "Invalid namespace".
func (s *Server) Of(nsp string) *Namespace { panic("todo") }

// Close disconnects every socket (ReasonServerShutdown) and closes every session.
func (s *Server) Close() { panic("todo") }

// Namespace is a set of handlers.
type Namespace struct{}

// OnConnect sets the hook run for each CONNECT before the socket joins. A
// non-nil error refuses it with CONNECT_ERROR {"message": err.Error()}
// (the npm client surfaces it as "connect_error"); a *ConnectError adds data.
func (n *Namespace) OnConnect(fn func(s *Socket) error) { panic("todo") }

// OnDisconnect is called once per socket that had connected.
func (n *Namespace) OnDisconnect(fn func(s *Socket, reason string)) { panic("todo") }

// On registers the handler for event. Events without one go to OnAny if set,
// else are ignored.
func (n *Namespace) On(event string, h Handler) { panic("todo") }

// OnAny handles events that have no specific handler.
func (n *Namespace) OnAny(fn func(s *Socket, event string, m Message, ack Ack)) { panic("todo") }

// Sockets returns the connected sockets (a snapshot).
func (n *Namespace) Sockets() []*Socket { panic("todo") }

// ConnectError refuses a CONNECT with a message and optional JSON data.
type ConnectError struct {
	Message string
	Data    json.RawMessage
}

func (e *ConnectError) Error() string { return e.Message }

// Socket is one client's connection to one namespace. Safe for concurrent use.
type Socket struct{}

// ID returns the socket id (distinct from the Engine.IO sid).
func (s *Socket) ID() string { panic("todo") }

// Namespace returns the namespace name.
func (s *Socket) Namespace() string { panic("todo") }

// Auth returns the CONNECT payload (null when none).
func (s *Socket) Auth() json.RawMessage { panic("todo") }

// RemoteAddr, Header and Query describe the handshake request.
func (s *Socket) RemoteAddr() string  { panic("todo") }
func (s *Socket) Header() http.Header { panic("todo") }
func (s *Socket) Query() url.Values   { panic("todo") }
func (s *Socket) Transport() string   { panic("todo") }

// Emit sends event. It blocks while the connection's queue is full (up to
// the StallTimeout, then the connection is closed and ErrSlowConsumer returned).
func (s *Socket) Emit(event string, m Message) error { panic("todo") }

// EmitWithAck sends event and waits for the ack, ctx's deadline or
// AckTimeout, whichever comes first.
func (s *Socket) EmitWithAck(ctx context.Context, event string, m Message) (Message, error) {
	panic("todo")
}

// Send writes a pre-encoded packet (see Encode): one encoding shared by many sockets.
func (s *Socket) Send(p *Encoded) error { panic("todo") }

// Disconnect sends DISCONNECT for this namespace (the client will not
// reconnect), then reports reason to OnDisconnect. Closes the Engine.IO
// session when it was its last namespace. Idempotent.
func (s *Socket) Disconnect(reason string) { panic("todo") }

// Done is closed when the socket has disconnected.
func (s *Socket) Done() <-chan struct{} { panic("todo") }

// Encoded is an event encoded once for many sockets of one namespace.
type Encoded struct{}

// Encode encodes event for namespace nsp.
func Encode(nsp, event string, m Message) (*Encoded, error) { panic("todo") }

// ClientConfig configures a Client.
type ClientConfig struct {
	eio.DialConfig
	// Reconnect enables automatic reconnection with exponential backoff and
	// jitter (never after a server-initiated disconnect).
	Reconnect  bool
	BackoffMin time.Duration // default 500ms
	BackoffMax time.Duration // default 5s
	AckTimeout time.Duration // default 10s
	Logger     *slog.Logger
}

// Client is a Socket.IO client (one Engine.IO connection, many namespaces).
type Client struct{}

// NewClient returns a client for baseURL; it connects on Connect.
func NewClient(baseURL string, cfg ClientConfig) *Client { panic("todo") }

// Socket returns the client socket for namespace nsp; auth (may be nil) is
// called on every (re)connect to build the CONNECT payload. Register
// handlers before Connect.
func (c *Client) Socket(nsp string, auth func() json.RawMessage) *ClientSocket { panic("todo") }

// Connect dials and connects every registered namespace; it returns when all
// are connected, one was refused (*ConnectError) or ctx ends. With Reconnect,
// the client keeps reconnecting in the background until Close.
func (c *Client) Connect(ctx context.Context) error { panic("todo") }

// Close disconnects every namespace and stops reconnecting. Idempotent; it
// waits for the client's goroutines to exit.
func (c *Client) Close() error { panic("todo") }

// ClientSocket is one namespace of a Client. Safe for concurrent use.
type ClientSocket struct{}

func (s *ClientSocket) On(event string, h func(m Message, ack Ack)) { panic("todo") }
func (s *ClientSocket) OnConnect(fn func())                         { panic("todo") }

// OnDisconnect reports reason and whether the client will reconnect.
func (s *ClientSocket) OnDisconnect(fn func(reason string, willReconnect bool)) { panic("todo") }
func (s *ClientSocket) OnConnectError(fn func(err *ConnectError))               { panic("todo") }
func (s *ClientSocket) Connected() bool                                         { panic("todo") }
func (s *ClientSocket) Emit(event string, m Message) error                      { panic("todo") }
func (s *ClientSocket) EmitWithAck(ctx context.Context, event string, m Message) (Message, error) {
	panic("todo")
}
