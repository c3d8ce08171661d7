// Package ratelimit holds the per-client-IP token-bucket limit shared by
// Switchboard's public endpoints (the tracker, the message route), and the
// rule for which address a request counts against (the peer, or the
// X-Forwarded-For entry a trusted proxy vouches for).
package ratelimit

import (
	"cmp"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
)

// maxBuckets bounds the per-IP table; past it, buckets are evicted (see
// sweepLocked).
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

// Limiter is a per-client token bucket limit: one bucket per IPv4 address
// and per IPv6 /64 (one host commonly has a whole /64). Safe for
// concurrent use; its table of buckets is bounded (maxBuckets). A negative
// rate means unlimited.
type Limiter struct {
	rate, burst float64
	now         func() time.Time
	max         int // table bound: maxBuckets (tests lower it)

	mu      sync.Mutex
	buckets map[netip.Addr]*Bucket // guarded by mu; keyed by Key
}

// New returns a Limiter allowing rate events per second per client with
// the given burst; now is the clock (time.Now when nil).
func New(rate float64, burst int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{rate: rate, burst: float64(burst), now: now, max: maxBuckets, buckets: make(map[netip.Addr]*Bucket)}
}

// Key returns the address a limit counts ip against: ip itself for IPv4
// (and IPv4-mapped IPv6), its /64 for IPv6.
func Key(ip netip.Addr) netip.Addr {
	ip = ip.Unmap().WithZone("")
	if ip.Is6() {
		p, _ := ip.Prefix(64) // cannot fail: 64 bits of an IPv6 address
		return p.Addr()
	}
	return ip
}

// Allow reports whether ip may have one more event now (and takes it).
func (l *Limiter) Allow(ip netip.Addr) bool {
	if l.rate < 0 {
		return true
	}
	ip = Key(ip)
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[ip]
	if b == nil {
		if len(l.buckets) >= l.max {
			l.sweepLocked(now)
		}
		b = &Bucket{tokens: l.burst, last: now}
		l.buckets[ip] = b
	}
	return b.Take(now, l.rate, l.burst)
}

// level returns b's tokens at now, without taking any.
func (l *Limiter) level(b *Bucket, now time.Time) float64 {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		return min(l.burst, b.tokens+el*l.rate)
	}
	return b.tokens
}

// sweepLocked makes room in a full table. It drops the buckets that have
// refilled completely: they hold no information (a new bucket is full).
// When that frees less than an eighth of the table, it also drops the
// fullest of the others, down to seven eighths: forgetting a bucket
// gives its client back at most what it had spent, and the fullest have
// spent least. Clients that are being limited (empty buckets) are
// forgotten last, so many new addresses cannot reset the others' limits;
// sweeping at most once per eighth of the table keeps its cost
// amortised.
func (l *Limiter) sweepLocked(now time.Time) {
	for ip, b := range l.buckets {
		if l.level(b, now) >= l.burst {
			delete(l.buckets, ip)
		}
	}
	keep := l.max - max(1, l.max/8)
	if len(l.buckets) <= keep {
		return
	}
	type held struct {
		ip    netip.Addr
		level float64
		last  time.Time
	}
	all := make([]held, 0, len(l.buckets))
	for ip, b := range l.buckets {
		all = append(all, held{ip, l.level(b, now), b.last})
	}
	// Fullest first; of equally full ones, the least recently used.
	slices.SortFunc(all, func(a, b held) int {
		if c := cmp.Compare(b.level, a.level); c != 0 {
			return c
		}
		return a.last.Compare(b.last)
	})
	for _, h := range all[:len(all)-keep] {
		delete(l.buckets, h.ip)
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
