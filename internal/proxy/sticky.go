package proxy

import (
	"bytes"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// stickyTable maps Engine.IO session ids to the backend that created them.
// Entries expire after idle time, are bounded in number (oldest dropped
// first) and are removed when their backend leaves the pool.
type stickyTable struct {
	max  int
	idle time.Duration
	now  func() time.Time

	mu      sync.RWMutex // guards m, inserts
	m       map[string]*stickyEntry
	inserts int
}

type stickyEntry struct {
	b    *backend.Backend
	seen atomic.Int64 // unix nanoseconds of the last request
}

func newStickyTable(max int, idle time.Duration) *stickyTable {
	return &stickyTable{max: max, idle: idle, now: time.Now, m: map[string]*stickyEntry{}}
}

// get returns the backend of sid and refreshes the entry, or nil.
func (t *stickyTable) get(sid string) *backend.Backend {
	t.mu.RLock()
	e := t.m[sid]
	t.mu.RUnlock()
	if e == nil {
		return nil
	}
	now := t.now().UnixNano()
	if now-e.seen.Load() > int64(t.idle) {
		t.remove(sid, e)
		return nil
	}
	e.seen.Store(now)
	return e.b
}

func (t *stickyTable) remove(sid string, e *stickyEntry) {
	t.mu.Lock()
	if t.m[sid] == e {
		delete(t.m, sid)
	}
	t.mu.Unlock()
}

// put records that b created sid.
func (t *stickyTable) put(sid string, b *backend.Backend) {
	e := &stickyEntry{b: b}
	now := t.now().UnixNano()
	e.seen.Store(now)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.inserts++
	if len(t.m) >= t.max || t.inserts%1024 == 0 {
		t.sweepLocked(now)
	}
	t.m[sid] = e
}

// sweepLocked drops expired entries and, if the table is still full, the
// least recently seen quarter of it.
func (t *stickyTable) sweepLocked(now int64) {
	for k, e := range t.m {
		if now-e.seen.Load() > int64(t.idle) {
			delete(t.m, k)
		}
	}
	if len(t.m) < t.max {
		return
	}
	// Still full: find a cut-off time so that about a quarter goes.
	seen := make([]int64, 0, len(t.m))
	for _, e := range t.m {
		seen = append(seen, e.seen.Load())
	}
	cut := nthSmallest(seen, len(seen)/4)
	for k, e := range t.m {
		if e.seen.Load() <= cut {
			delete(t.m, k)
		}
	}
}

// nthSmallest returns the n-th smallest value of s (reorders s).
func nthSmallest(s []int64, n int) int64 {
	lo, hi := 0, len(s)-1
	for lo < hi {
		p := s[(lo+hi)/2]
		i, j := lo, hi
		for i <= j {
			for s[i] < p {
				i++
			}
			for s[j] > p {
				j--
			}
			if i <= j {
				s[i], s[j] = s[j], s[i]
				i++
				j--
			}
		}
		switch {
		case n <= j:
			hi = j
		case n >= i:
			lo = i
		default:
			return s[n]
		}
	}
	return s[n]
}

// dropBackend removes every session of b.
func (t *stickyTable) dropBackend(b *backend.Backend) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, e := range t.m {
		if e.b == b {
			delete(t.m, k)
		}
	}
}

func (t *stickyTable) len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// eioQuery finds the Engine.IO parameters in a raw query: isEIO when an
// EIO parameter is present, and the sid parameter's value (possibly "").
// It does not allocate.
func eioQuery(raw string) (isEIO bool, sid string) {
	if !strings.Contains(raw, "EIO=") {
		return false, ""
	}
	for raw != "" {
		var kv string
		kv, raw, _ = strings.Cut(raw, "&")
		k, v, _ := strings.Cut(kv, "=")
		switch k {
		case "EIO":
			isEIO = true
		case "sid":
			sid = v
		}
	}
	return isEIO, sid
}

// sidFromHandshake extracts the sid from the start of an Engine.IO
// handshake body: `0{"sid":"...",...}` (v4), or with a length prefix (v3).
func sidFromHandshake(p []byte) string {
	const key = `"sid":"`
	i := bytes.Index(p, []byte(key))
	if i < 0 {
		return ""
	}
	rest := p[i+len(key):]
	j := bytes.IndexByte(rest, '"')
	if j <= 0 || j > 128 {
		return ""
	}
	for _, c := range rest[:j] {
		if c < 0x21 || c > 0x7e || c == '\\' {
			return ""
		}
	}
	return string(rest[:j])
}
