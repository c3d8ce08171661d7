package proxy

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Config tunes the proxy. Zero values mean the documented default.
type Config struct {
	// NodeID names this node in the Via header added to forwarded requests;
	// a request whose Via already names it is a loop and gets 508
	// (default: "switchboard-" and 8 random hex digits, new per process).
	NodeID string
	// DialTimeout bounds connecting to a backend (default 5s).
	DialTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for a backend's response head
	// after the request was written; past it the client gets 504 (default 60s,
	// longer than Engine.IO's long-polling interval).
	ResponseHeaderTimeout time.Duration
	// WriteTimeout bounds each write to a backend or, in tunnels, to either
	// peer (default 30s).
	WriteTimeout time.Duration
	// MaxIdleConnsPerBackend caps the keep-alive connections kept per backend (default 256).
	MaxIdleConnsPerBackend int
	// IdleConnTimeout closes pooled connections unused this long (default 90s).
	IdleConnTimeout time.Duration
	// MaxResponseHeaderBytes bounds a backend's response head, status line
	// through the empty line, on both front ends; a bigger head gets 502
	// (default 64 KiB).
	MaxResponseHeaderBytes int64
	// TrustedProxies lists CIDRs (or single IPs) of peers whose
	// X-Forwarded-For/-Proto/-Host headers are kept and extended; from any
	// other peer they are replaced (default: none trusted).
	TrustedProxies []string
	// MaxStickySessions bounds the Engine.IO sid table (default 100000);
	// when full the least recently used entries are dropped.
	MaxStickySessions int
	// StickyIdleTimeout drops a sid not seen for this long (default 2m).
	StickyIdleTimeout time.Duration
	// StickyPeekBytes is how much of a handshake response body is searched
	// for the sid (default 4096).
	StickyPeekBytes int
	// MaxAttempts bounds the backends tried for one request: a refused dial
	// moves on to another backend, a connection that died before any
	// response byte is retried once (idempotent requests only) (default 3).
	MaxAttempts int
	// TunnelIdleTimeout closes a tunnel with no traffic in either direction
	// for this long (default 0: idle tunnels are never cut).
	TunnelIdleTimeout time.Duration
	// TLS configures connections to https backends (default: system roots,
	// server name from the backend URL).
	TLS *tls.Config
	// AccessLog logs one Info line per proxied request, on both front
	// ends (default off).
	AccessLog bool
	// DisableIOURing makes tunnel reactors write each direction with its
	// own write(2) instead of one io_uring submission per batch, and
	// leaves keep-alive HTTP connections to their goroutines instead of
	// the HTTP reactor, which needs io_uring (Linux; default: io_uring
	// where the kernel allows it, write(2) and goroutines otherwise).
	DisableIOURing bool
}

func (c Config) withDefaults() Config {
	if c.NodeID == "" {
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.NodeID = "switchboard-" + hex.EncodeToString(b[:])
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = 5 * time.Second
	}
	if c.ResponseHeaderTimeout <= 0 {
		c.ResponseHeaderTimeout = 60 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.MaxIdleConnsPerBackend <= 0 {
		c.MaxIdleConnsPerBackend = 256
	}
	if c.IdleConnTimeout <= 0 {
		c.IdleConnTimeout = 90 * time.Second
	}
	if c.MaxResponseHeaderBytes <= 0 {
		c.MaxResponseHeaderBytes = 64 << 10
	}
	if c.MaxStickySessions <= 0 {
		c.MaxStickySessions = 100000
	}
	if c.StickyIdleTimeout <= 0 {
		c.StickyIdleTimeout = 2 * time.Minute
	}
	if c.StickyPeekBytes <= 0 {
		c.StickyPeekBytes = 4096
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 3
	}
	return c
}

// ParseTrustedProxies parses CIDRs or single IP addresses as used by
// Config.TrustedProxies, joining every problem into one error.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	var bad []string
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				bad = append(bad, s)
				continue
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			bad = append(bad, s)
			continue
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("proxy: trusted proxies: not a CIDR or IP: %s", strings.Join(bad, ", "))
	}
	return out, nil
}
