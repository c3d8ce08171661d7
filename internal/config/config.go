package config

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"reflect"
	"strconv"
	"time"
)

// Config is the whole configuration of one Switchboard node. It is plain
// data: copy it freely; it holds no goroutines, locks or connections.
//
// A zero field means "use the default" (see Default and each field's
// comment); the only exception is Listen.Port, where 0 asks the kernel for
// a free port. Load returns a Config with its defaults filled in.
type Config struct {
	Listen   Listen   `yaml:"listen"`
	Log      Log      `yaml:"log"`
	Proxy    Proxy    `yaml:"proxy"`
	Control  Control  `yaml:"control"`
	Presence Presence `yaml:"presence"`
	Message  Message  `yaml:"message"`
	Tracker  Tracker  `yaml:"tracker"`
	Admin    Admin    `yaml:"admin"`
	Shutdown Shutdown `yaml:"shutdown"`
	Process  Process  `yaml:"process"`
}

// Listen configures the main listener, which serves the proxy, the /list
// channel, the tracker and the message route.
type Listen struct {
	// IP the main listener binds (default 127.0.0.1; the original's IP variable).
	IP string `yaml:"ip"`
	// Port the main listener binds (default 8080; the original's PORT variable).
	// 0 picks a free port; the bound address is logged.
	Port int `yaml:"port"`
	// ReadHeaderTimeout bounds reading one request's header (default 10s).
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// IdleTimeout closes idle client keep-alive connections (default 2m).
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes bounds one request's header block (default 64 KiB).
	MaxHeaderBytes int64 `yaml:"max_header_bytes"`
	// MaxConns caps the main listener's open client connections, each
	// HTTP/2 request in flight counting as one more; at the cap new clients
	// wait in the kernel's backlog (default 0: derived from
	// the open-file limit, (limit - 1000) / 2, as each proxied connection
	// may need a second descriptor to its backend).
	MaxConns int `yaml:"max_conns"`
	// TLSCert and TLSKey are PEM files (the certificate chain and its
	// private key). When both are set the main listener speaks only TLS
	// (https, wss); files renewed in place are picked up within a second.
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// NoHTTP2 makes the TLS listener offer only HTTP/1.1 in ALPN; by
	// default it offers HTTP/2 too, served by net/http (WebSockets still
	// use HTTP/1.1 connections).
	NoHTTP2 bool `yaml:"no_http2"`
}

// Log configures the structured logger.
type Log struct {
	// Level is the minimum level logged: debug, info, warn or error (default info).
	Level string `yaml:"level"`
	// Format is text (logfmt-like) or json (default text).
	Format string `yaml:"format"`
	// Requests logs one Info line per proxied request: client, method,
	// URI, status, backend, duration (default false).
	Requests bool `yaml:"requests"`
}

// Proxy configures the HTTP and WebSocket reverse proxy.
type Proxy struct {
	// Backends are static backend URLs, for servers that do not use the
	// /list channel, each optionally followed by " weight=N" (1-1000,
	// default 1) (default none).
	Backends []string `yaml:"backends"`
	// DialTimeout bounds connecting to a backend (default 2s).
	DialTimeout time.Duration `yaml:"dial_timeout"`
	// ResponseHeaderTimeout bounds waiting for a backend's response header
	// after the request was written (default 30s); exceeded → 504.
	ResponseHeaderTimeout time.Duration `yaml:"response_header_timeout"`
	// IdleConnsPerBackend is the keep-alive pool size per backend (default 64).
	IdleConnsPerBackend int `yaml:"idle_conns_per_backend"`
	// IdleConnTimeout closes pooled backend connections idle this long (default 90s).
	IdleConnTimeout time.Duration `yaml:"idle_conn_timeout"`
	// TunnelIdleTimeout closes an upgraded (WebSocket) tunnel with no
	// traffic in either direction for this long, as HAProxy's `timeout
	// tunnel` (default 0: idle tunnels are never cut).
	TunnelIdleTimeout time.Duration `yaml:"tunnel_idle_timeout"`
	// NoIOURing makes the tunnel reactors write each message with its own
	// write(2), and keep-alive HTTP connections wait on their goroutines
	// instead of in the HTTP reactor; by default each batch's writes go out
	// in one io_uring submission on Linux where the kernel allows it
	// (default false).
	NoIOURing bool `yaml:"no_io_uring"`
	// TrustedProxies are CIDRs (or single IPs) of proxies in front of
	// Switchboard whose X-Forwarded-* headers are kept (default none: they
	// are replaced).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// NodeID names this node in the Via-style loop guard (default
	// hostname-port, or hostname plus a random suffix when Port is 0).
	NodeID string `yaml:"node_id"`
	// nodeIDDrawn says NodeID was not set and got a random suffix (Port
	// 0): every load draws another, which is no change (see Changed).
	nodeIDDrawn bool
	// StickyTTL is how long an Engine.IO session id stays pinned to its
	// backend after its last request (default 2m).
	StickyTTL time.Duration `yaml:"sticky_ttl"`
	// RetryBackoff is how long a backend whose dial was refused first stays
	// out of rotation; it doubles on each further failure (default 1s).
	RetryBackoff time.Duration `yaml:"retry_backoff"`
	// RetryBackoffMax caps RetryBackoff's growth (default 30s).
	RetryBackoffMax time.Duration `yaml:"retry_backoff_max"`
	// HealthPath turns on active health checks: each backend gets a GET of
	// this path every HealthInterval, and one that fails HealthFall times
	// in a row is out of rotation until it passes HealthRise times in a
	// row (default none: off).
	HealthPath string `yaml:"health_path"`
	// HealthInterval is the time between two checks of a backend (default 5s).
	HealthInterval time.Duration `yaml:"health_interval"`
	// HealthTimeout bounds one check (default 2s).
	HealthTimeout time.Duration `yaml:"health_timeout"`
	// HealthFall is how many failed checks in a row take a backend out (default 3).
	HealthFall int `yaml:"health_fall"`
	// HealthRise is how many passed checks in a row bring it back (default 2).
	HealthRise int `yaml:"health_rise"`
	// TrackerOnly runs the channel, presence, messaging and tracker without
	// proxying other paths, which answer 404 (default false).
	TrackerOnly bool `yaml:"tracker_only"`
	// Affinity sends a request naming a user to the backend holding that
	// user (default: off).
	Affinity AffinityKey `yaml:"affinity"`
}

// AffinityKey names where an ordinary proxied request names its user; the
// first one present wins, in the order query, header, cookie. All empty:
// no user affinity (and the proxy's fast path serves every plain request).
type AffinityKey struct {
	// Query parameter naming the user (default none).
	Query string `yaml:"query"`
	// Header naming the user (default none).
	Header string `yaml:"header"`
	// Cookie naming the user (default none).
	Cookie string `yaml:"cookie"`
}

// Control configures the /list channel backends register over.
type Control struct {
	// Path is the channel's Engine.IO path on the main listener (default /list).
	Path string `yaml:"path"`
	// Namespace is the channel's Socket.IO namespace (default /list).
	Namespace string `yaml:"namespace"`
	// Token is the shared secret backends present in CONNECT (auth.token or
	// ?token=); empty means none (default none). Never logged.
	Token string `yaml:"token"`
	// AllowRemote lets non-loopback peers register without a token
	// (default false: without a token only loopback peers may register).
	AllowRemote bool `yaml:"allow_remote"`
	// PingInterval is the Engine.IO heartbeat interval (default 25s).
	PingInterval time.Duration `yaml:"ping_interval"`
	// PingTimeout is how long a missing pong is tolerated (default 20s).
	PingTimeout time.Duration `yaml:"ping_timeout"`
	// MaxPayloadBytes bounds one Engine.IO payload or message (default 1000000).
	MaxPayloadBytes int64 `yaml:"max_payload_bytes"`
	// MaxMetaBytes bounds the meta object of an address event (default 4 KiB).
	MaxMetaBytes int64 `yaml:"max_meta_bytes"`
	// MaxSessions bounds concurrent channel sessions (default 4096).
	MaxSessions int `yaml:"max_sessions"`
	// SendQueueMessages bounds each session's outbound queue; a session
	// whose queue overflows is cut off as a slow consumer (default 1024).
	SendQueueMessages int `yaml:"send_queue_messages"`
	// WriteLinger is how long a session's writer may wait for more
	// messages before writing a small batch: under a steady stream, one
	// write system call and one wake-up per WriteLinger instead of one per
	// message, for at most WriteLinger of added latency (default 0: off;
	// at most 10ms).
	WriteLinger time.Duration `yaml:"write_linger"`
	// ReadCoalesce lets a session's reader gather a busy backend's
	// messages for up to this long instead of waking for each one (one
	// wake-up serves every busy session; Linux), for at most this much
	// added latency, only while messages arrive faster than that (default
	// 500µs, set by Default: a zero here is off; at most 10ms).
	ReadCoalesce time.Duration `yaml:"read_coalesce"`
}

// Presence configures user names held by backends and their mailboxes.
type Presence struct {
	// Grace is how long an orphaned name stays reserved after its backend's
	// session ends (default 30s).
	Grace time.Duration `yaml:"grace"`
	// MaxNameBytes bounds one user name (default 128).
	MaxNameBytes int64 `yaml:"max_name_bytes"`
	// MailboxMessages bounds the messages kept per orphaned name (default 100).
	MailboxMessages int `yaml:"mailbox_messages"`
	// MailboxBytes bounds the bytes kept per orphaned name (default 64 KiB).
	MailboxBytes int64 `yaml:"mailbox_bytes"`
	// MailboxTotalBytes bounds the bytes kept in all mailboxes (default 64 MiB).
	MailboxTotalBytes int64 `yaml:"mailbox_total_bytes"`
	// MailboxTotalMessages bounds the messages kept in all mailboxes
	// (default 200000); each costs about 300 bytes beyond its payload.
	MailboxTotalMessages int `yaml:"mailbox_total_messages"`
}

// Message configures the HTTP message route (POST /message).
type Message struct {
	// Path of the route on the main listener (default /message).
	Path string `yaml:"path"`
	// Disabled turns the route off; its path is then proxied (default false).
	Disabled bool `yaml:"disabled"`
	// MaxBodyBytes bounds a message body (default 64 KiB); larger → 413.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Token, if set, must be presented as "Authorization: Bearer <token>"
	// (default none). Never logged.
	Token string `yaml:"token"`
	// RatePerSecond is the sustained request rate allowed per client IP
	// (default 100; negative: unlimited).
	RatePerSecond float64 `yaml:"rate_per_second"`
	// Burst is the request burst allowed per client IP (default 200).
	Burst int `yaml:"burst"`
	// UserKey says where the route reads the recipient's name.
	UserKey UserKey `yaml:"user_key"`
}

// UserKey names where the message route reads the recipient's name; the
// first one present wins, in the order query, header, cookie.
type UserKey struct {
	// Query parameter naming the recipient (default to).
	Query string `yaml:"query"`
	// Header naming the recipient (default X-Switchboard-To).
	Header string `yaml:"header"`
	// Cookie naming the recipient (default none).
	Cookie string `yaml:"cookie"`
}

// Tracker configures the public, read-only tracker endpoint for browsers.
type Tracker struct {
	// Path is the tracker's Engine.IO path on the main listener (default /tracker).
	Path string `yaml:"path"`
	// Disabled turns the tracker off; its path is then proxied (default false).
	Disabled bool `yaml:"disabled"`
	// AllowedOrigins are the origins browsers may connect from
	// (scheme://host[:port], or * for any; default none: same origin only).
	AllowedOrigins []string `yaml:"allowed_origins"`
	// ShowInternal shows backends' internal addresses to browsers when they
	// announced no public url (default false).
	ShowInternal bool `yaml:"show_internal"`
	// MaxClients bounds concurrent tracker clients (default 10000).
	MaxClients int `yaml:"max_clients"`
	// RatePerSecond is the connection attempts allowed per client IP and
	// second (default 5; negative: unlimited).
	RatePerSecond float64 `yaml:"rate_per_second"`
	// Burst is the connection burst allowed per client IP (default 20).
	Burst int `yaml:"burst"`
	// EventRatePerSecond is the events per second a tracker client may
	// send before it is disconnected (default 5; browsers have no reason
	// to send any). The CONNECT counts as one.
	EventRatePerSecond float64 `yaml:"event_rate_per_second"`
	// EventBurst is the event burst a tracker client may send (default 20).
	EventBurst int `yaml:"event_burst"`
}

// Admin configures the admin listener (/healthz, /backends, /stats).
type Admin struct {
	// Addr is the admin listener's host:port (default 127.0.0.1:9090).
	Addr string `yaml:"addr"`
	// Disabled turns the admin listener off (default false).
	Disabled bool `yaml:"disabled"`
}

// Shutdown configures the graceful stop on SIGINT/SIGTERM.
type Shutdown struct {
	// DrainDelay is how long /healthz answers 503 before the listeners stop
	// accepting, so an upstream balancer notices (default 1s).
	DrainDelay time.Duration `yaml:"drain_delay"`
	// Timeout bounds finishing in-flight requests and closing tunnels and
	// sessions (default 15s); what is left then is closed forcibly.
	Timeout time.Duration `yaml:"timeout"`
	// StreamCloseDelay is how long tunnels (WebSocket, other upgrades) may
	// go on after the listeners stopped before they are closed (default 0).
	StreamCloseDelay time.Duration `yaml:"stream_close_delay"`
}

// Process configures how the operating system schedules Switchboard.
type Process struct {
	// Nice is the scheduling niceness of every Switchboard thread, as
	// nice(1) and HAProxy's nice keyword take it: -20 (most favoured) to 19
	// (default 0, left as the process started). Below 0 needs root or
	// CAP_SYS_NICE. It matters on a host whose CPUs Switchboard shares with
	// its backends; see the README.
	Nice int `yaml:"nice"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	var c Config
	c.Listen.Port = 8080
	// Not in ApplyDefaults: zero is a setting (off), not "unset".
	c.Control.ReadCoalesce = 500 * time.Microsecond
	c.ApplyDefaults()
	return c
}

// ApplyDefaults replaces every zero field with its default. Listen.Port is
// left alone: 0 there asks for a free port (Load starts from Default, so an
// unset port is 8080).
func (c *Config) ApplyDefaults() {
	setStr(&c.Listen.IP, "127.0.0.1")
	setDur(&c.Listen.ReadHeaderTimeout, 10*time.Second)
	setDur(&c.Listen.IdleTimeout, 2*time.Minute)
	setI64(&c.Listen.MaxHeaderBytes, 64<<10)

	setStr(&c.Log.Level, "info")
	setStr(&c.Log.Format, "text")

	setDur(&c.Proxy.DialTimeout, 2*time.Second)
	setDur(&c.Proxy.ResponseHeaderTimeout, 30*time.Second)
	setInt(&c.Proxy.IdleConnsPerBackend, 64)
	setDur(&c.Proxy.IdleConnTimeout, 90*time.Second)
	setDur(&c.Proxy.StickyTTL, 2*time.Minute)
	setDur(&c.Proxy.RetryBackoff, time.Second)
	setDur(&c.Proxy.RetryBackoffMax, 30*time.Second)
	setDur(&c.Proxy.HealthInterval, 5*time.Second)
	setDur(&c.Proxy.HealthTimeout, 2*time.Second)
	setInt(&c.Proxy.HealthFall, 3)
	setInt(&c.Proxy.HealthRise, 2)
	if c.Proxy.NodeID == "" {
		c.Proxy.NodeID = defaultNodeID(c.Listen.Port)
		c.Proxy.nodeIDDrawn = c.Listen.Port == 0
	}

	setStr(&c.Control.Path, "/list")
	setStr(&c.Control.Namespace, "/list")
	setDur(&c.Control.PingInterval, 25*time.Second)
	setDur(&c.Control.PingTimeout, 20*time.Second)
	setI64(&c.Control.MaxPayloadBytes, 1_000_000)
	setI64(&c.Control.MaxMetaBytes, 4<<10)
	setInt(&c.Control.MaxSessions, 4096)
	setInt(&c.Control.SendQueueMessages, 1024)

	setDur(&c.Presence.Grace, 30*time.Second)
	setI64(&c.Presence.MaxNameBytes, 128)
	setInt(&c.Presence.MailboxMessages, 100)
	setI64(&c.Presence.MailboxBytes, 64<<10)
	setI64(&c.Presence.MailboxTotalBytes, 64<<20)
	setInt(&c.Presence.MailboxTotalMessages, 200_000)

	setStr(&c.Message.Path, "/message")
	setI64(&c.Message.MaxBodyBytes, 64<<10)
	setF64(&c.Message.RatePerSecond, 100)
	setInt(&c.Message.Burst, 200)
	setStr(&c.Message.UserKey.Query, "to")
	setStr(&c.Message.UserKey.Header, "X-Switchboard-To")

	setStr(&c.Tracker.Path, "/tracker")
	setInt(&c.Tracker.MaxClients, 10000)
	setF64(&c.Tracker.RatePerSecond, 5)
	setInt(&c.Tracker.Burst, 20)
	setF64(&c.Tracker.EventRatePerSecond, 5)
	setInt(&c.Tracker.EventBurst, 20)

	setStr(&c.Admin.Addr, "127.0.0.1:9090")

	setDur(&c.Shutdown.DrainDelay, time.Second)
	setDur(&c.Shutdown.Timeout, 15*time.Second)
}

// defaultNodeID is hostname-port, so two nodes on one host (chained for a
// test, or side by side) do not take each other for a loop.
func defaultNodeID(port int) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "switchboard"
	}
	if port != 0 {
		return host + "-" + strconv.Itoa(port)
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + hex.EncodeToString(b[:])
}

func setStr(p *string, v string) {
	if *p == "" {
		*p = v
	}
}

func setDur(p *time.Duration, v time.Duration) {
	if *p == 0 {
		*p = v
	}
}

func setInt(p *int, v int) {
	if *p == 0 {
		*p = v
	}
}

func setI64(p *int64, v int64) {
	if *p == 0 {
		*p = v
	}
}

func setF64(p *float64, v float64) {
	if *p == 0 {
		*p = v
	}
}

// Changed returns the YAML keys (section.field) whose values differ
// between a and b, in --help order.
func Changed(a, b Config) []string {
	var out []string
	for _, o := range options() {
		if o.key == "proxy.node_id" && a.Proxy.nodeIDDrawn && b.Proxy.nodeIDDrawn {
			continue // two random draws, not a change
		}
		if !reflect.DeepEqual(reflect.ValueOf(o.field(&a)).Elem().Interface(), reflect.ValueOf(o.field(&b)).Elem().Interface()) {
			out = append(out, o.key)
		}
	}
	return out
}
