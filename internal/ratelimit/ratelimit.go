// Package ratelimit holds the per-client-IP token-bucket limit shared by
// Switchboard's public endpoints (the tracker, the message route), and the
// rule for which address a request counts against (the peer, or the
// X-Forwarded-For entry a trusted proxy vouches for).
package ratelimit

import (
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// maxBuckets bounds the per-IP table; past it, full (idle) buckets are swept.
const maxBuckets = 65536

// Bucket is one token bucket: tokens refill at rate per second up to burst.
// Not safe for concurrent use (Limiter guards its own; a per-connection
// Bucket is used by that connection's goroutine only).
type Bucket struct {
	tokens float64
	last   time.Time
}

// NewBucket returns a full bucket.
func NewBucket(burst int, now time.Time) *Bucket {
	return &Bucket{tokens: float64(burst), last: now}
}

// Take refills b at now and takes one token if there is one.
func (b *Bucket) Take(now time.Time, rate, burst float64) bool {
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

// Limiter is a per-client-IP token bucket limit. Safe for concurrent use;
// its table of buckets is bounded (maxBuckets). A negative rate means
// unlimited.
type Limiter struct {
	rate, burst float64
	now         func() time.Time

	mu      sync.Mutex
	buckets map[netip.Addr]*Bucket // guarded by mu
}

// New returns a Limiter allowing rate events per second per IP with the
// given burst; now is the clock (time.Now when nil).
func New(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(burst), now: now, buckets: make(map[netip.Addr]*Bucket)}
}

// Allow reports whether ip may have one more event now (and takes it).
func (l *Limiter) Allow(ip netip.Addr) bool {
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
		b = &Bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	return b.Take(now, l.rate, l.burst)
}

// sweepLocked drops buckets that have refilled completely (they hold no
// information); if none has, it drops them all rather than grow.
func (l *Limiter) sweepLocked(now time.Time) {
	for ip, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*l.rate >= l.burst {
			delete(l.buckets, ip)
		}
	}
	if len(l.buckets) >= maxBuckets {
		clear(l.buckets)
	}
}

// ClientIP returns the address a per-IP limit applies to: the peer, or,
// when the peer is a trusted proxy, the right-most X-Forwarded-For entry
// that is not one.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if !IsTrusted(ip, trusted) {
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
			if !IsTrusted(a, trusted) {
				return a
			}
			ip = a
		}
	}
	return ip
}

// IsTrusted reports whether ip is in one of the trusted prefixes.
func IsTrusted(ip netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
