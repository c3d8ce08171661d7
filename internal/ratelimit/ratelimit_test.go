package ratelimit

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := New(2, 3, func() time.Time { return now })
	a, b := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	for i := range 3 {
		if !l.Allow(a) {
			t.Fatalf("burst %d refused", i)
		}
	}
	if l.Allow(a) {
		t.Fatal("past burst allowed")
	}
	if !l.Allow(b) {
		t.Fatal("other IP refused")
	}
	now = now.Add(500 * time.Millisecond) // one token at 2/s
	if !l.Allow(a) || l.Allow(a) {
		t.Fatal("refill")
	}
	now = now.Add(time.Hour) // refills up to burst only
	for range 3 {
		if !l.Allow(a) {
			t.Fatal("refilled burst refused")
		}
	}
	if l.Allow(a) {
		t.Fatal("refilled past burst")
	}
	u := New(-1, 1, time.Now)
	if first, second := u.Allow(a), u.Allow(a); !first || !second {
		t.Fatal("negative rate limits")
	}
}

// TestLimiterSweep: the table stays bounded; idle buckets are dropped.
func TestLimiterSweep(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := New(1, 1, func() time.Time { return now })
	for i := range maxBuckets + 10 {
		ip := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		l.Allow(ip)
		if i == maxBuckets/2 {
			now = now.Add(time.Minute) // the first half is idle now
		}
	}
	if n := len(l.buckets); n > maxBuckets || n < maxBuckets/2 {
		t.Fatalf("%d buckets", n)
	}
}

// TestLimiterSweepKeepsLimited: when many new addresses fill the table,
// a client that used up its burst stays limited: the buckets forgotten
// first are the fullest, and the table stays bounded.
func TestLimiterSweepKeepsLimited(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := New(1, 2, func() time.Time { return now })
	l.max = 16
	limited := netip.MustParseAddr("192.0.2.1")
	for l.Allow(limited) {
	}
	for i := range 10 * l.max {
		l.Allow(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})) // one token of two each
		if n := len(l.buckets); n > l.max {
			t.Fatalf("%d buckets, bound %d", n, l.max)
		}
	}
	if l.Allow(limited) {
		t.Fatal("the limited client's bucket was forgotten")
	}
	// Idle buckets go first: once everyone has refilled, one sweep frees
	// them all.
	now = now.Add(time.Minute)
	l.Allow(netip.MustParseAddr("10.1.0.1"))
	l.Allow(netip.MustParseAddr("10.1.0.2"))
	if len(l.buckets) != 2 {
		t.Fatalf("%d buckets after every one refilled", len(l.buckets))
	}
}

// TestLimiterIPv6Per64: IPv6 clients are counted per /64 (a host has a
// whole one), IPv4 and IPv4-mapped addresses per address.
func TestLimiterIPv6Per64(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	l := New(1, 2, func() time.Time { return now })
	for _, a := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:fffe"} {
		if !l.Allow(netip.MustParseAddr(a)) {
			t.Fatalf("%s refused within the burst", a)
		}
	}
	if l.Allow(netip.MustParseAddr("2001:db8:1:2:1234::5")) {
		t.Fatal("a third address of the same /64 allowed past the burst")
	}
	if !l.Allow(netip.MustParseAddr("2001:db8:1:3::1")) {
		t.Fatal("the next /64 refused")
	}
	if !l.Allow(netip.MustParseAddr("10.0.0.1")) || !l.Allow(netip.MustParseAddr("::ffff:10.0.0.1")) || l.Allow(netip.MustParseAddr("10.0.0.1")) {
		t.Fatal("IPv4 and IPv4-mapped: one bucket per address")
	}
	if l.Allow(netip.MustParseAddr("10.0.0.1")) || !l.Allow(netip.MustParseAddr("10.0.0.2")) {
		t.Fatal("IPv4 neighbours share a bucket")
	}
	for in, want := range map[string]string{
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::", "fe80::1%eth0": "fe80::", "::ffff:192.0.2.1": "192.0.2.1", "192.0.2.1": "192.0.2.1",
	} {
		if got := Key(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("Key(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{name: "direct", remote: "192.0.2.1:5000", want: "192.0.2.1"},
		{name: "untrusted peer's header ignored", remote: "192.0.2.1:5000", xff: []string{"203.0.113.9"}, want: "192.0.2.1"},
		{name: "trusted proxy", remote: "127.0.0.1:5000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "chain of proxies", remote: "127.0.0.1:5000", xff: []string{"198.51.100.7, 203.0.113.9", "10.1.1.1"}, want: "203.0.113.9"},
		{name: "all trusted", remote: "127.0.0.1:5000", xff: []string{"10.1.1.1"}, want: "10.1.1.1"},
		{name: "malformed", remote: "127.0.0.1:5000", xff: []string{"203.0.113.9, junk"}, want: "127.0.0.1"},
		{name: "v4-mapped peer", remote: "[::ffff:127.0.0.1]:5000", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "ipv6", remote: "[2001:db8::1]:5000", want: "2001:db8::1"},
	} {
		r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{"X-Forwarded-For": tc.xff}}
		if got := ClientIP(r, trusted); got.String() != tc.want {
			t.Errorf("%s: %v, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzClientIP: any header and peer address give a valid address or the
// zero one, never a panic, and an untrusted peer is always its own client.
func FuzzClientIP(f *testing.F) {
	for _, s := range [][2]string{
		{"127.0.0.1:1", "203.0.113.9"}, {"127.0.0.1:1", "198.51.100.7, 10.0.0.1"}, {"[::1]:2", "2001:db8::1"},
		{"192.0.2.1:3", "1.2.3.4"}, {"junk", ""}, {"127.0.0.1:1", ",,, ,"}, {"127.0.0.1:1", "::ffff:1.2.3.4"},
	} {
		f.Add(s[0], s[1])
	}
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128"), netip.MustParsePrefix("10.0.0.0/8")}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{"X-Forwarded-For": {xff}}}
		ip := ClientIP(r, trusted)
		peer, err := netip.ParseAddrPort(remote)
		if err != nil {
			if ip.IsValid() {
				t.Fatalf("bad peer %q gave %v", remote, ip)
			}
			return
		}
		if !IsTrusted(peer.Addr().Unmap(), trusted) && ip != peer.Addr().Unmap() {
			t.Fatalf("untrusted peer %v: got %v", peer, ip)
		}
		if !ip.IsValid() || ip.Is4In6() {
			t.Fatalf("got %v", ip)
		}
	})
}
