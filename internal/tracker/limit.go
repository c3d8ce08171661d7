package tracker

import (
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"
)

// maxBuckets bounds the per-IP table; past it, full (idle) buckets are swept.
const maxBuckets = 65536

// bucket is a token bucket: tokens refill at rate per second up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

// take refills b at now and takes one token if there is one.
func (b *bucket) take(now time.Time, rate, burst float64) bool {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens = min(burst, b.tokens+el*rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// limiter is the per-client-IP handshake limit.
type limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket // guarded by mu
}

func newLimiter(rate float64, burst int, now func() time.Time) *limiter {
	return &limiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[netip.Addr]*bucket)}
}

// allow reports whether ip may open one more session now.
func (l *limiter) allow(ip netip.Addr) bool {
	if l.rate < 0 {
		return true
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= maxBuckets {
			l.sweepLocked(now)
		}
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	return b.take(now, l.rate, l.burst)
}

// sweepLocked drops buckets that have refilled completely (they hold no
// information); if none has, it drops them all rather than grow.
func (l *limiter) sweepLocked(now time.Time) {
	for ip, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// clientIP returns the address the per-IP limit applies to: the peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For entry
// that is not one.
func clientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if !isTrusted(ip, trusted) {
		return ip
	}
	xff := r.Header.Values("X-Forwarded-For")
	for i := len(xff) - 1; i >= 0; i-- {
		parts := strings.Split(xff[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			a, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return ip // malformed: stop believing the header
			}
			a = a.Unmap()
			if !isTrusted(a, trusted) {
				return a
			}
			ip = a
		}
	}
	return ip
}

func isTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// originChecker decides which browser origins may use the tracker.
type originChecker struct {
	any     bool
	allowed []string // lower-case scheme://host[:port]
}

func newOriginChecker(list []string) originChecker {
	var oc originChecker
	for _, o := range list {
		if o == "*" {
			oc.any = true
			continue
		}
		oc.allowed = append(oc.allowed, strings.ToLower(strings.TrimSuffix(o, "/")))
	}
	return oc
}

// listed reports whether origin is explicitly allowed (gets CORS headers).
func (oc originChecker) listed(origin string) bool {
	if oc.any {
		return true
	}
	origin = strings.ToLower(origin)
	for _, o := range oc.allowed {
		if o == origin {
			return true
		}
	}
	return false
}

// ok reports whether a request may proceed: no Origin (not a browser), the
// same origin as the request's Host, or a listed one.
func (oc originChecker) ok(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	return oc.listed(origin) || sameOrigin(origin, r.Host)
}

// sameOrigin compares the Origin's host and port with the Host header
// (behind a reverse proxy, the proxy must pass Host through).
func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	port := "80"
	if u.Scheme == "https" {
		port = "443"
	}
	return strings.EqualFold(withPort(u.Host, port), withPort(host, port))
}

func withPort(host, def string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), def)
}
