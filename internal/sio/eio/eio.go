package eio

import (
	"errors"
	"net/http"
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
	// WriteLinger, when positive, lets the WebSocket writer wait up to this
	// long for more messages before it writes a small batch (fewer than
	// LingerFlushPackets queued), so a steady stream of messages costs one
	// write system call and one wake-up per WriteLinger instead of one per
	// message. It adds at most WriteLinger to a message's latency; a queue
	// that reaches LingerFlushPackets, and a close, end the wait at once.
	// Replies are then written by the writer too (not inline from the
	// reader), so they coalesce with the rest. 0 (default): write at once.
	// Polling transports ignore it.
	WriteLinger time.Duration
	// ReadCoalesce lets a WebSocket session's reader gather a busy peer's
	// messages for up to this long instead of waking for each one
	// (ws.Config.ReadCoalesce; Linux). A server defaults to
	// DefaultReadCoalesce; a client to off. Negative: off. A connection
	// counts as busy while its messages arrive several per period: only
	// then does it add up to one period to a message's delay, for a
	// quarter to 40% less CPU per ack in the acked-echo benchmark. A peer
	// that waits for each answer makes it stop within a few periods, and
	// it tries that peer again ever more rarely.
	ReadCoalesce time.Duration
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

// Defaults applied by Config.withDefaults.
const (
	DefaultPingInterval    = 25 * time.Second
	DefaultPingTimeout     = 20 * time.Second
	DefaultMaxPayloadBytes = 1_000_000
	DefaultUpgradeTimeout  = 10 * time.Second
	DefaultSendQueue       = 1024
	DefaultStallTimeout    = 10 * time.Second
	DefaultWriteTimeout    = 10 * time.Second
	DefaultReadCoalesce    = 500 * time.Microsecond // a server's; a client's is off
	// LingerFlushPackets is the queue length that ends a WriteLinger wait.
	LingerFlushPackets = 64
)

// Transport names, as they appear in the "transport" query parameter.
const (
	TransportPolling   = "polling"
	TransportWebSocket = "websocket"
)

// withDefaults returns cfg with zero fields replaced by the defaults.
func (cfg Config) withDefaults() Config {
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.MaxPayloadBytes <= 0 {
		cfg.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if cfg.UpgradeTimeout <= 0 {
		cfg.UpgradeTimeout = DefaultUpgradeTimeout
	}
	if len(cfg.Transports) == 0 {
		cfg.Transports = []string{TransportPolling, TransportWebSocket}
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	return cfg
}

// serverReadCoalesce is a server's ReadCoalesce: 0 takes the default, a
// negative value is off.
func (cfg *Config) serverReadCoalesce() time.Duration {
	switch {
	case cfg.ReadCoalesce == 0:
		return DefaultReadCoalesce
	case cfg.ReadCoalesce < 0:
		return 0
	}
	return cfg.ReadCoalesce
}

func (cfg *Config) allows(transport string) bool {
	for _, t := range cfg.Transports {
		if t == transport {
			return true
		}
	}
	return false
}
