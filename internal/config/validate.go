package config

import (
	"github.com/switchboard-lb/switchboard/internal/backend"

	"crypto/tls"
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Validate checks c (after ApplyDefaults) and reports every problem at
// once, joined with errors.Join; nil means c is usable. Each problem names
// the YAML key it is about.
func (c *Config) Validate() error {
	v := &validator{}

	if _, err := netip.ParseAddr(c.Listen.IP); err != nil {
		v.add("listen.ip", "not an IP address: %q", c.Listen.IP)
	}
	if c.Listen.Port < 0 || c.Listen.Port > 65535 {
		v.add("listen.port", "out of range 0-65535: %d", c.Listen.Port)
	}
	v.positiveDur("listen.read_header_timeout", c.Listen.ReadHeaderTimeout)
	v.positiveDur("listen.idle_timeout", c.Listen.IdleTimeout)
	v.positiveInt("listen.max_header_bytes", c.Listen.MaxHeaderBytes)
	if c.Listen.MaxConns < 0 {
		v.add("listen.max_conns", "negative: %d", c.Listen.MaxConns)
	}
	if c.Listen.MaxHeaderBytes > math.MaxInt32 {
		v.add("listen.max_header_bytes", "too large: %d", c.Listen.MaxHeaderBytes)
	}

	switch {
	case c.Listen.TLSCert == "" && c.Listen.TLSKey == "":
	case c.Listen.TLSCert == "":
		v.add("listen.tls_cert", "missing: listen.tls_key is set")
	case c.Listen.TLSKey == "":
		v.add("listen.tls_key", "missing: listen.tls_cert is set")
	default:
		if _, err := tls.LoadX509KeyPair(c.Listen.TLSCert, c.Listen.TLSKey); err != nil {
			v.add("listen.tls_cert", "%s", err)
		}
	}

	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "warning", "error":
	default:
		v.add("log.level", "must be debug, info, warn or error: %q", c.Log.Level)
	}
	switch strings.ToLower(c.Log.Format) {
	case "text", "json":
	default:
		v.add("log.format", "must be text or json: %q", c.Log.Format)
	}

	seen := map[string]bool{}
	for _, b := range c.Proxy.Backends {
		u, _, err := backend.ParseStatic(b)
		if err != nil {
			v.add("proxy.backends", "%s", err)
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(u.Hostname(), "[]")); err == nil && ip.IsUnspecified() {
			v.add("proxy.backends", "%q: unspecified host %s (a static backend needs a reachable address)", b, u.Hostname())
			continue
		}
		if c.isOwnListener(u) {
			v.add("proxy.backends", "%q: is Switchboard's own listener (a loop)", b)
		}
		key := u.Scheme + "://" + strings.ToLower(u.Host)
		if seen[key] {
			v.add("proxy.backends", "%q: listed twice", b)
		}
		seen[key] = true
	}
	v.positiveDur("proxy.dial_timeout", c.Proxy.DialTimeout)
	v.positiveDur("proxy.response_header_timeout", c.Proxy.ResponseHeaderTimeout)
	v.positiveInt("proxy.idle_conns_per_backend", int64(c.Proxy.IdleConnsPerBackend))
	v.positiveDur("proxy.idle_conn_timeout", c.Proxy.IdleConnTimeout)
	v.nonNegativeDur("proxy.tunnel_idle_timeout", c.Proxy.TunnelIdleTimeout) // 0: never
	for _, p := range c.Proxy.TrustedProxies {
		if _, err := ParsePrefix(p); err != nil {
			v.add("proxy.trusted_proxies", "%s", err)
		}
	}
	if strings.TrimSpace(c.Proxy.NodeID) == "" || strings.ContainsAny(c.Proxy.NodeID, " \t\r\n,;\"") {
		v.add("proxy.node_id", "must be non-empty without spaces, commas, semicolons or quotes: %q", c.Proxy.NodeID)
	}
	v.positiveDur("proxy.sticky_ttl", c.Proxy.StickyTTL)
	v.positiveDur("proxy.retry_backoff", c.Proxy.RetryBackoff)
	v.positiveDur("proxy.retry_backoff_max", c.Proxy.RetryBackoffMax)
	if c.Proxy.HealthPath != "" {
		if u, err := url.ParseRequestURI(c.Proxy.HealthPath); err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(c.Proxy.HealthPath, "/") {
			v.add("proxy.health_path", "must be a path starting with /: %q", c.Proxy.HealthPath)
		}
	}
	v.positiveDur("proxy.health_interval", c.Proxy.HealthInterval)
	v.positiveDur("proxy.health_timeout", c.Proxy.HealthTimeout)
	if c.Proxy.HealthTimeout > c.Proxy.HealthInterval && c.Proxy.HealthInterval > 0 {
		v.add("proxy.health_timeout", "longer than proxy.health_interval (%s > %s)", c.Proxy.HealthTimeout, c.Proxy.HealthInterval)
	}
	v.positiveInt("proxy.health_fall", int64(c.Proxy.HealthFall))
	v.positiveInt("proxy.health_rise", int64(c.Proxy.HealthRise))
	if c.Proxy.RetryBackoffMax > 0 && c.Proxy.RetryBackoffMax < c.Proxy.RetryBackoff {
		v.add("proxy.retry_backoff_max", "smaller than proxy.retry_backoff (%s < %s)", c.Proxy.RetryBackoffMax, c.Proxy.RetryBackoff)
	}
	if c.Proxy.TrackerOnly && len(c.Proxy.Backends) > 0 {
		v.add("proxy.backends", "set, but proxy.tracker_only turns the proxy off")
	}

	v.path("control.path", c.Control.Path)
	if !strings.HasPrefix(c.Control.Namespace, "/") || strings.ContainsAny(c.Control.Namespace, "?#, \t\r\n") {
		v.add("control.namespace", "must start with / and hold no ?, #, comma or space: %q", c.Control.Namespace)
	}
	if strings.ContainsAny(c.Control.Token, "\r\n") {
		v.add("control.token", "must not contain line breaks")
	}
	v.positiveDur("control.ping_interval", c.Control.PingInterval)
	v.positiveDur("control.ping_timeout", c.Control.PingTimeout)
	v.positiveInt("control.max_payload_bytes", c.Control.MaxPayloadBytes)
	v.positiveInt("control.max_meta_bytes", c.Control.MaxMetaBytes)
	v.positiveInt("control.max_sessions", int64(c.Control.MaxSessions))
	v.positiveInt("control.send_queue_messages", int64(c.Control.SendQueueMessages))
	v.durUpTo("control.write_linger", c.Control.WriteLinger, 10*time.Millisecond)
	v.durUpTo("control.read_coalesce", c.Control.ReadCoalesce, 10*time.Millisecond)

	v.positiveDur("presence.grace", c.Presence.Grace)
	v.positiveInt("presence.max_name_bytes", c.Presence.MaxNameBytes)
	v.positiveInt("presence.mailbox_messages", int64(c.Presence.MailboxMessages))
	v.positiveInt("presence.mailbox_bytes", c.Presence.MailboxBytes)
	v.positiveInt("presence.mailbox_total_bytes", c.Presence.MailboxTotalBytes)
	v.positiveInt("presence.mailbox_total_messages", int64(c.Presence.MailboxTotalMessages))
	if c.Presence.MailboxBytes > c.Presence.MailboxTotalBytes {
		v.add("presence.mailbox_bytes", "larger than presence.mailbox_total_bytes (%d > %d)", c.Presence.MailboxBytes, c.Presence.MailboxTotalBytes)
	}

	if !c.Message.Disabled {
		v.path("message.path", c.Message.Path)
	}
	v.positiveInt("message.max_body_bytes", c.Message.MaxBodyBytes)
	if strings.ContainsAny(c.Message.Token, "\r\n") {
		v.add("message.token", "must not contain line breaks")
	}
	v.rate("message.rate_per_second", c.Message.RatePerSecond)
	v.positiveInt("message.burst", int64(c.Message.Burst))
	v.token("proxy.affinity.query", c.Proxy.Affinity.Query, false)
	v.token("proxy.affinity.header", c.Proxy.Affinity.Header, false)
	v.token("proxy.affinity.cookie", c.Proxy.Affinity.Cookie, false)
	v.token("message.user_key.query", c.Message.UserKey.Query, true)
	v.token("message.user_key.header", c.Message.UserKey.Header, true)
	v.token("message.user_key.cookie", c.Message.UserKey.Cookie, false)

	if !c.Tracker.Disabled {
		v.path("tracker.path", c.Tracker.Path)
	}
	for _, o := range c.Tracker.AllowedOrigins {
		if err := checkOrigin(o); err != nil {
			v.add("tracker.allowed_origins", "%s", err)
		}
	}
	v.positiveInt("tracker.max_clients", int64(c.Tracker.MaxClients))
	v.rate("tracker.rate_per_second", c.Tracker.RatePerSecond)
	v.positiveInt("tracker.burst", int64(c.Tracker.Burst))
	if r := c.Tracker.EventRatePerSecond; math.IsNaN(r) || math.IsInf(r, 0) || r <= 0 {
		v.add("tracker.event_rate_per_second", "must be a positive number: %v", r)
	}
	v.positiveInt("tracker.event_burst", int64(c.Tracker.EventBurst))

	if !c.Admin.Disabled {
		host, port, err := net.SplitHostPort(c.Admin.Addr)
		if err != nil {
			v.add("admin.addr", "not host:port: %q", c.Admin.Addr)
		} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			v.add("admin.addr", "bad port in %q", c.Admin.Addr)
		} else if n != 0 && n == c.Listen.Port && c.sameHost(host) {
			v.add("admin.addr", "%q clashes with the main listener %s", c.Admin.Addr, net.JoinHostPort(c.Listen.IP, strconv.Itoa(c.Listen.Port)))
		}
	}

	v.positiveDur("shutdown.drain_delay", c.Shutdown.DrainDelay)
	v.positiveDur("shutdown.timeout", c.Shutdown.Timeout)
	v.nonNegativeDur("shutdown.stream_close_delay", c.Shutdown.StreamCloseDelay)

	if c.Process.Nice < -20 || c.Process.Nice > 19 {
		v.add("process.nice", "%d is outside -20..19", c.Process.Nice)
	}

	v.pathClashes(c)
	return errors.Join(v.errs...)
}

// Paths returns the main listener's exact paths taken by Switchboard's own
// endpoints, keyed by YAML key; disabled endpoints are left out.
func (c *Config) Paths() map[string]string {
	m := map[string]string{"control.path": c.Control.Path}
	if !c.Tracker.Disabled {
		m["tracker.path"] = c.Tracker.Path
	}
	if !c.Message.Disabled {
		m["message.path"] = c.Message.Path
	}
	return m
}

func (v *validator) pathClashes(c *Config) {
	// The channel and the tracker own Path and Path+"/" (Engine.IO
	// clients use both); the message route owns its exact path.
	type owner struct{ key, path string }
	var owners []owner
	for _, k := range []string{"control.path", "tracker.path", "message.path"} {
		p, ok := c.Paths()[k]
		if !ok || p == "" {
			continue
		}
		owners = append(owners, owner{k, p})
		if k != "message.path" {
			owners = append(owners, owner{k, strings.TrimSuffix(p, "/") + "/"})
		}
	}
	reported := map[string]bool{}
	for i, a := range owners {
		for _, b := range owners[i+1:] {
			if a.key != b.key && a.path == b.path && !reported[a.key+b.key] {
				reported[a.key+b.key] = true
				v.add(b.key, "%q clashes with %s", b.path, a.key)
			}
		}
	}
}

// isOwnListener reports whether u points at the main listener.
func (c *Config) isOwnListener(u *url.URL) bool {
	port, err := strconv.Atoi(u.Port())
	if err != nil || port != c.Listen.Port || port == 0 {
		return false
	}
	return c.sameHost(u.Hostname())
}

// sameHost reports whether host names the main listener's IP (loopback
// names count when the listener is on loopback or on all interfaces).
func (c *Config) sameHost(host string) bool {
	lip, err := netip.ParseAddr(c.Listen.IP)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return lip.IsLoopback() || lip.IsUnspecified()
	}
	hip, err := netip.ParseAddr(strings.Trim(host, "[]"))
	if err != nil {
		return false
	}
	hip, lip = hip.Unmap(), lip.Unmap()
	return hip == lip || lip.IsUnspecified() && (hip.IsLoopback() || hip.IsUnspecified()) ||
		hip.IsUnspecified() && lip.IsLoopback() || hip.IsLoopback() && lip.IsLoopback()
}

// ParsePrefix parses a trusted-proxy entry: a CIDR, or a single IP
// (taken as /32 or /128).
func ParsePrefix(s string) (netip.Prefix, error) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return netip.PrefixFrom(a, a.BitLen()), nil
	}
	return netip.Prefix{}, fmt.Errorf("%q: not a CIDR or IP", s)
}

func checkOrigin(o string) error {
	if o == "*" {
		return nil
	}
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q: not an origin (scheme://host[:port], or *)", o)
	}
	return nil
}

type validator struct{ errs []error }

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
}

func (v *validator) positiveDur(key string, d time.Duration) {
	if d <= 0 {
		v.add(key, "must be positive: %s", d)
	}
}

// nonNegativeDur checks a duration whose 0 means off.
func (v *validator) nonNegativeDur(key string, d time.Duration) {
	if d < 0 {
		v.add(key, "negative: %s", d)
	}
}

// durUpTo checks a delay that may be 0 (off) and at most limit.
func (v *validator) durUpTo(key string, d, limit time.Duration) {
	if d < 0 || d > limit {
		v.add(key, "must be between 0 and %s, got %s", limit, d)
	}
}

func (v *validator) positiveInt(key string, n int64) {
	if n <= 0 {
		v.add(key, "must be positive: %d", n)
	}
}

func (v *validator) rate(key string, r float64) {
	if math.IsNaN(r) || math.IsInf(r, 0) || r == 0 {
		v.add(key, "must be a positive number (negative: unlimited): %v", r)
	}
}

// path checks an endpoint path: absolute, clean, not the root, no query.
func (v *validator) path(key, p string) {
	switch {
	case !strings.HasPrefix(p, "/") || p == "/":
		v.add(key, "must start with / and not be / itself: %q", p)
	case strings.ContainsAny(p, "?#%{} \t\r\n"):
		v.add(key, "must not contain ?, #, %%, {, } or spaces: %q", p)
	case strings.Contains(p, "//") || strings.Contains(p, "/./") || strings.Contains(p, "/../") ||
		strings.HasSuffix(p, "/.") || strings.HasSuffix(p, "/.."):
		v.add(key, "must be a clean path: %q", p)
	case strings.HasSuffix(p, "/"):
		v.add(key, "must not end with /: %q", p)
	}
}

// token checks a header, query or cookie name.
func (v *validator) token(key, s string, required bool) {
	if s == "" {
		if required {
			v.add(key, "must not be empty")
		}
		return
	}
	for _, r := range s {
		if r <= ' ' || r >= 0x7f || strings.ContainsRune("()<>@,;:\\\"/[]?={}", r) {
			v.add(key, "not a valid name: %q", s)
			return
		}
	}
}
