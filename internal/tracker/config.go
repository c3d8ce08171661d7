package tracker

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults applied to zero Config fields.
const (
	DefaultPath            = "/tracker"
	DefaultMaxClients      = 10000
	DefaultRatePerSecond   = 5
	DefaultBurst           = 20
	DefaultEventRate       = 5
	DefaultEventBurst      = 20
	DefaultPingInterval    = 25 * time.Second
	DefaultPingTimeout     = 20 * time.Second
	DefaultConnectTimeout  = 10 * time.Second
	DefaultSendQueue       = 256
	DefaultStallTimeout    = 5 * time.Millisecond
	DefaultMaxPayloadBytes = 4096
	DefaultMaxPending      = 4096
)

// Config configures a Tracker. Zero fields take the defaults above.
type Config struct {
	// Path is the Engine.IO path (default /tracker). The JSON list is served
	// at Path+"/servers".
	Path string
	// AllowedOrigins are the browser origins (scheme://host[:port]) allowed
	// besides the tracker's own: they get CORS headers and may open a
	// WebSocket. "*" allows any origin. Default none: a browser request whose
	// Origin differs from its Host is refused with 403 (requests without an
	// Origin header, i.e. non-browser clients, are not affected). This is
	// stricter than socket.io's default (no CORS headers, any WebSocket
	// origin) on purpose: the list is public, but a page elsewhere should not
	// ride its visitors' connections unless the operator allows it.
	AllowedOrigins []string
	// ShowInternal lets browsers see backends' internal addresses: the
	// `address` field of server_joined/server_left, and the address as `url`
	// for a backend that announced no public URL (default false: such a
	// backend is not listed at all).
	ShowInternal bool
	// MaxClients bounds concurrent Engine.IO sessions (default 10000); more
	// handshakes are refused with 503.
	MaxClients int
	// RatePerSecond is the handshakes allowed per client IP and second
	// (default 5; negative: unlimited); Burst is the bucket size (default 20).
	// Over the limit a handshake gets 429.
	RatePerSecond float64
	Burst         int
	// TrustedProxies lists CIDRs or IPs of reverse proxies (nginx...) whose
	// X-Forwarded-For is believed for the per-IP limit (default none: the
	// peer address is the client).
	TrustedProxies []string
	// EventRate is the events per second a client may send before it is
	// disconnected (default 5; browsers have no reason to send any);
	// EventBurst is the bucket size (default 20).
	EventRate  float64
	EventBurst int
	// PingInterval and PingTimeout are the Engine.IO heartbeat (defaults 25s, 20s).
	PingInterval time.Duration
	PingTimeout  time.Duration
	// ConnectTimeout bounds the time from handshake to namespace CONNECT (default 10s).
	ConnectTimeout time.Duration
	// SendQueue is the per-client outbound queue in packets (default 256):
	// the fan-out cuts off a client whose queue is full, without waiting.
	// StallTimeout is how long the `servers` list sent to a new client may
	// wait on a full queue before it is cut off (default 5ms).
	SendQueue    int
	StallTimeout time.Duration
	// MaxPayloadBytes bounds what a client may send in one message or
	// polling body (default 4096).
	MaxPayloadBytes int64
	// MaxPending bounds pool changes waiting for the fan-out (default 4096);
	// past it they are replaced by one full `servers` list.
	MaxPending int
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = DefaultPath
	}
	c.Path = "/" + strings.Trim(c.Path, "/")
	if c.MaxClients <= 0 {
		c.MaxClients = DefaultMaxClients
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = DefaultRatePerSecond
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.EventRate <= 0 {
		c.EventRate = DefaultEventRate
	}
	if c.EventBurst <= 0 {
		c.EventBurst = DefaultEventBurst
	}
	if c.PingInterval <= 0 {
		c.PingInterval = DefaultPingInterval
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = DefaultPingTimeout
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.SendQueue <= 0 {
		c.SendQueue = DefaultSendQueue
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = DefaultStallTimeout
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	return c
}

// validate checks the origins and proxies, joining every problem.
func (c Config) validate() (trusted []netip.Prefix, err error) {
	var errs []error
	for _, o := range c.AllowedOrigins {
		if o == "*" {
			continue
		}
		u, perr := url.Parse(o)
		if perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			errs = append(errs, fmt.Errorf("tracker: allowed origin %q: want scheme://host[:port] or *", o))
		}
	}
	for _, s := range c.TrustedProxies {
		if p, perr := netip.ParsePrefix(s); perr == nil {
			trusted = append(trusted, p.Masked())
			continue
		}
		a, perr := netip.ParseAddr(s)
		if perr != nil {
			errs = append(errs, fmt.Errorf("tracker: trusted proxy %q: not an IP or CIDR", s))
			continue
		}
		a = a.Unmap()
		trusted = append(trusted, netip.PrefixFrom(a, a.BitLen()))
	}
	return trusted, errors.Join(errs...)
}
