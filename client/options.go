package client

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultBackoffMin      = 250 * time.Millisecond
	DefaultBackoffMax      = 5 * time.Second
	DefaultDialTimeout     = 10 * time.Second
	DefaultAckTimeout      = 10 * time.Second
	DefaultDrainTimeout    = 30 * time.Second
	DefaultShutdownTimeout = 10 * time.Second // Serve's http.Server.Shutdown, after the drain
	DefaultMaxInFlight     = 1024
	DefaultPath            = "/list"
	DefaultNamespace       = "/list"
)

// Option configures Dial (and Serve). Options are applied in order; a later
// one wins.
type Option func(*config) error

type config struct {
	address         string
	publicURL       string
	meta            json.RawMessage
	token           string
	weight          int
	logger          *slog.Logger
	backoffMin      time.Duration
	backoffMax      time.Duration
	dialTimeout     time.Duration
	ackTimeout      time.Duration
	drainTimeout    time.Duration
	shutdownTimeout time.Duration // Serve's http.Server.Shutdown
	maxInFlight     int
	writeLinger     time.Duration
	batching        bool
	path            string
	tls             *tls.Config
	nameLost        func(name, holder string)
	onMessage       func(Message)
	onJoined        func(Server)
	onLeft          func(Server)
	rand            func() float64   // backoff jitter (default math/rand/v2)
	now             func() time.Time // clock of SendMessageAsync's ack deadlines (default time.Now)
	onReady         func()           // test hook: after each (re)registration and resync
	onDown          func()           // test hook: after a registered connection was lost
}

func defaultConfig() config {
	return config{
		backoffMin:      DefaultBackoffMin,
		backoffMax:      DefaultBackoffMax,
		dialTimeout:     DefaultDialTimeout,
		ackTimeout:      DefaultAckTimeout,
		drainTimeout:    DefaultDrainTimeout,
		shutdownTimeout: DefaultShutdownTimeout,
		maxInFlight:     DefaultMaxInFlight,
		path:            DefaultPath,
		batching:        true,
		now:             time.Now,
	}
}

// WithAddress sets the backend's own URL ("http://10.0.0.5:3001"), the
// address Switchboard proxies to. Required by Dial; Serve derives it from
// its listener when absent. An unspecified host (0.0.0.0, ::) is replaced
// by the hub with the peer IP of the channel connection.
func WithAddress(url string) Option {
	return func(c *config) error { c.address = url; return nil }
}

// WithPublicURL sets the URL browsers use to reach the backend directly
// (the tracker shows it; default: the address).
func WithPublicURL(url string) Option {
	return func(c *config) error { c.publicURL = url; return nil }
}

// WithMeta attaches opaque JSON (at most 4 KiB by default) to the
// backend's announcement: a json.RawMessage or []byte is used as is,
// anything else is encoded with encoding/json.
func WithMeta(v any) Option {
	return func(c *config) error {
		switch m := v.(type) {
		case json.RawMessage:
			if !json.Valid(m) {
				return fmt.Errorf("client: meta is not valid JSON")
			}
			c.meta = m
		case []byte:
			if !json.Valid(m) {
				return fmt.Errorf("client: meta is not valid JSON")
			}
			c.meta = json.RawMessage(m)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				return fmt.Errorf("client: encode meta: %w", err)
			}
			c.meta = b
		}
		return nil
	}
}

// WithToken sets the channel token presented in CONNECT (auth.token).
// It is never logged.
func WithToken(token string) Option {
	return func(c *config) error { c.token = token; return nil }
}

// WithWeight sets the backend's weight in the pool (1–1000; default 1).
func WithWeight(w int) Option {
	return func(c *config) error {
		if w < 1 {
			return fmt.Errorf("client: weight %d: must be at least 1", w)
		}
		c.weight = w
		return nil
	}
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error { c.logger = l; return nil }
}

// WithBackoff bounds the delay between reconnection attempts: it starts at
// min, doubles per failed attempt up to max, with ±50% jitter (defaults
// 250ms and 5s).
func WithBackoff(min, max time.Duration) Option {
	return func(c *config) error {
		if min <= 0 || max < min {
			return fmt.Errorf("client: backoff %v..%v: need 0 < min <= max", min, max)
		}
		c.backoffMin, c.backoffMax = min, max
		return nil
	}
}

// WithDialTimeout bounds one connection attempt to one hub URL: the dial
// and the Socket.IO handshake (default 10s). It must be positive.
func WithDialTimeout(d time.Duration) Option {
	return func(c *config) error { return positive(&c.dialTimeout, "dial timeout", d) }
}

// WithAckTimeout bounds waiting for the hub's answer when the call's
// context has no deadline (default 10s). It must be positive.
func WithAckTimeout(d time.Duration) Option {
	return func(c *config) error { return positive(&c.ackTimeout, "ack timeout", d) }
}

// positive sets *dst to d, or refuses a duration that is not positive
// (Dial and Serve then fail with the error).
func positive(dst *time.Duration, what string, d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("client: %s %v: must be positive", what, d)
	}
	*dst = d
	return nil
}

// WithMaxInFlight bounds the messages sent with SendMessageAsync whose
// answer has not arrived yet (default 1024): past it, SendMessageAsync
// waits for a slot (backpressure on the sender) instead of queueing more.
func WithMaxInFlight(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("client: max in flight %d: must be at least 1", n)
		}
		c.maxInFlight = n
		return nil
	}
}

// WithWriteLinger lets the connection's writer wait up to d for more
// messages before it writes (eio.Config.WriteLinger): under a steady
// stream of messages and delivery acknowledgements, many share one write
// system call, at the price of up to d more latency per message. 0 (the
// default) writes at once.
func WithWriteLinger(d time.Duration) Option {
	return func(c *config) error {
		if d < 0 {
			return fmt.Errorf("client: write linger %v: must not be negative", d)
		}
		c.writeLinger = d
		return nil
	}
}

// WithBatching turns batched messages on or off (default on). On, the
// messages SendMessageAsync sends while an earlier one awaits the hub's
// answer are coalesced into one `message` event carrying an array (at most
// 1000 messages), and the client tells the hub it takes deliveries in
// arrays too: fewer packets, system calls and wake-ups per message on both
// sides, no added latency when the connection is quiet. A hub without
// batch support is detected (it refuses the first array with BAD_REQUEST,
// which is then re-sent one message at a time) and the connection falls
// back to single messages; turn batching off to skip that probe, e.g.
// behind a proxy that inspects events. Send and SendMessage always send
// one message per event.
func WithBatching(on bool) Option {
	return func(c *config) error { c.batching = on; return nil }
}

// WithDrainTimeout bounds the drain Serve runs when its ctx ends (default
// 30s): how long it waits for the requests and tunnels Switchboard proxies
// to this backend to finish. It must be positive.
func WithDrainTimeout(d time.Duration) Option {
	return func(c *config) error { return positive(&c.drainTimeout, "drain timeout", d) }
}

// WithShutdownTimeout bounds the http.Server.Shutdown Serve runs after the
// drain (default 10s), on a clock of its own: requests still running when
// the drain timed out get this long to finish before the server is
// closed. Serve's stop therefore takes at most the drain timeout plus the
// shutdown timeout. It must be positive.
func WithShutdownTimeout(d time.Duration) Option {
	return func(c *config) error { return positive(&c.shutdownTimeout, "shutdown timeout", d) }
}

// WithPath sets the hub's Engine.IO path of the channel (default "/list");
// it must start with "/". The namespace comes from the hub URL's path
// ("http://hub:8080/list"), default "/list".
func WithPath(path string) Option {
	return func(c *config) error {
		if !strings.HasPrefix(path, "/") {
			return fmt.Errorf("client: path %q: must start with /", path)
		}
		c.path = path
		return nil
	}
}

// WithTLSConfig sets the TLS configuration for https:// and wss:// hub
// URLs, e.g. RootCAs for a hub with a private certificate (default:
// crypto/tls defaults, the system's roots). It is cloned per connection;
// ServerName defaults to the hub URL's host.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error { c.tls = cfg; return nil }
}

// WithNameLost sets the callback told about each name the client held but
// could not re-claim after a reconnect, because another backend (holder,
// its address when known) claimed it meanwhile, or the hub refused it. The
// name is no longer held. It runs on the client's connection-manager
// goroutine, after the reconnect completed, concurrently with the handlers
// (OnMessage …), which run on the connection's reader. It may call client
// methods, Close included, but the client notices no disconnect while it
// runs: keep it short. A panic in it is recovered and logged at Error.
func WithNameLost(fn func(name, holder string)) Option {
	return func(c *config) error { c.nameLost = fn; return nil }
}

// WithOnMessage sets the message handler (see Client.OnMessage).
func WithOnMessage(fn func(Message)) Option {
	return func(c *config) error { c.onMessage = fn; return nil }
}

// WithOnServerJoined sets the pool-join handler (see Client.OnServerJoined).
func WithOnServerJoined(fn func(Server)) Option {
	return func(c *config) error { c.onJoined = fn; return nil }
}

// WithOnServerLeft sets the pool-leave handler (see Client.OnServerLeft).
func WithOnServerLeft(fn func(Server)) Option {
	return func(c *config) error { c.onLeft = fn; return nil }
}

// withOnReady sets a hook run after each registration and resync (tests).
func withOnReady(fn func()) Option {
	return func(c *config) error { c.onReady = fn; return nil }
}

// withOnDown sets a hook run after a registered connection was lost (tests).
func withOnDown(fn func()) Option {
	return func(c *config) error { c.onDown = fn; return nil }
}
