package backend

import (
	"encoding/json"
	"net/url"
	"sync/atomic"
	"time"
)

// Circuit breaker intervals: a backend whose dial is refused or reset is
// taken out of rotation for CircuitMin, doubling on each consecutive failure
// up to CircuitMax; a success resets it.
const (
	CircuitMin = time.Second
	CircuitMax = 30 * time.Second
)

// Backend is one upstream server. The exported fields are set before the
// Backend is added to a Registry and are read-only afterwards; the hot state
// (counters, draining, circuit) is atomic, so a *Backend is safe for
// concurrent use.
type Backend struct {
	// ID identifies the backend in the registry, admin API and logs; chosen by the caller.
	ID string
	// URL is the backend's base URL (http or https, host and port).
	URL *url.URL
	// Addr is "host:port" to dial; one backend per Addr in a Registry.
	Addr string
	// Weight is the smooth weighted round-robin weight; values < 1 count as 1.
	Weight int
	// PublicURL is the URL browsers may use to reach the backend directly (tracker); may be empty.
	PublicURL string
	// Meta is opaque JSON announced by the backend (tracker); may be nil.
	Meta json.RawMessage
	// Static is true for backends from configuration rather than the /list channel.
	Static bool
	// Session is the Socket.IO id of the /list channel session that
	// registered the backend (the backend's own socket.id); empty for
	// static backends.
	Session string
	// Since is when the backend joined.
	Since time.Time

	inFlight  atomic.Int64
	tunnels   atomic.Int64
	draining  atomic.Bool
	unhealthy atomic.Bool  // failed its active health checks (internal/healthcheck)
	downUntil atomic.Int64 // unix nanoseconds; 0 = circuit closed
	backoff   atomic.Int64 // current circuit interval in nanoseconds; 0 = none

	retryMin, retryMax time.Duration // from Registry.SetRetryBackoff; zero: CircuitMin/CircuitMax
}

// EffectiveWeight returns Weight, or 1 when Weight < 1.
func (b *Backend) EffectiveWeight() int {
	if b.Weight < 1 {
		return 1
	}
	return b.Weight
}

// Available reports whether the backend may receive new requests: it is not
// draining, not failing its health checks, and its circuit is closed.
// Cheap enough for every Pick.
func (b *Backend) Available() bool {
	if !b.TakesNewWork() {
		return false
	}
	du := b.downUntil.Load()
	return du == 0 || time.Now().UnixNano() >= du
}

// AvailableAt is Available with an explicit clock, for tests.
func (b *Backend) AvailableAt(now time.Time) bool {
	if !b.TakesNewWork() {
		return false
	}
	du := b.downUntil.Load()
	return du == 0 || now.UnixNano() >= du
}

// SetDraining marks the backend draining (no new requests or Engine.IO
// sessions; requests of existing sticky sessions still reach it) or clears
// it. It reports whether the flag changed; the caller then tells the
// registry (Registry.Touch).
func (b *Backend) SetDraining(on bool) (changed bool) {
	return b.draining.Swap(on) != on
}

// Draining reports whether the backend is draining.
func (b *Backend) Draining() bool { return b.draining.Load() }

// SetHealthy records the verdict of the backend's active health checks:
// an unhealthy backend gets no new requests (as a draining one) until it is
// healthy again. It reports whether the state changed; the caller then
// tells the registry (Registry.Touch). Backends start healthy.
func (b *Backend) SetHealthy(ok bool) (changed bool) {
	return b.unhealthy.Swap(!ok) != !ok
}

// Healthy reports whether the backend passes its health checks (true when
// none run).
func (b *Backend) Healthy() bool { return !b.unhealthy.Load() }

// TakesNewWork reports whether the backend is neither draining nor failing
// its health checks (its circuit aside): what the tracker shows browsers.
func (b *Backend) TakesNewWork() bool { return !b.draining.Load() && !b.unhealthy.Load() }

// MarkFailed opens the circuit after a refused or reset dial at now: the
// backend is out of rotation for an interval that starts at CircuitMin and
// doubles with each consecutive failure up to CircuitMax. It returns the
// interval chosen.
func (b *Backend) MarkFailed(now time.Time) time.Duration {
	for {
		old := b.backoff.Load()
		lo, hi := int64(CircuitMin), int64(CircuitMax)
		if b.retryMin > 0 {
			lo = int64(b.retryMin)
		}
		if b.retryMax > 0 {
			hi = max(int64(b.retryMax), lo)
		}
		next := lo
		if old > 0 {
			next = min(old*2, hi)
		}
		if b.backoff.CompareAndSwap(old, next) {
			b.downUntil.Store(now.UnixNano() + next)
			return time.Duration(next)
		}
	}
}

// MarkOK closes the circuit after a successful exchange. It costs two atomic
// loads when the circuit was already closed.
func (b *Backend) MarkOK() {
	if b.backoff.Load() != 0 {
		b.backoff.Store(0)
	}
	if b.downUntil.Load() != 0 {
		b.downUntil.Store(0)
	}
}

// DownUntil returns when the circuit closes again, or the zero Time when it is closed.
func (b *Backend) DownUntil() time.Time {
	du := b.downUntil.Load()
	if du == 0 {
		return time.Time{}
	}
	return time.Unix(0, du)
}

// AddInFlight adjusts the in-flight request counter by delta.
func (b *Backend) AddInFlight(delta int64) { addNonNegative(&b.inFlight, delta) }

// InFlight returns the number of requests being forwarded to the backend.
func (b *Backend) InFlight() int64 { return b.inFlight.Load() }

// AddTunnels adjusts the open tunnel counter by delta.
func (b *Backend) AddTunnels(delta int64) { addNonNegative(&b.tunnels, delta) }

// Tunnels returns the number of open upgraded connections (WebSocket etc.).
func (b *Backend) Tunnels() int64 { return b.tunnels.Load() }

// busy reports whether requests or tunnels are still proxied to b.
func (b *Backend) busy() bool { return b.InFlight() > 0 || b.Tunnels() > 0 }

// addNonNegative adds delta to v and refuses to let it drop below zero.
func addNonNegative(v *atomic.Int64, delta int64) {
	if v.Add(delta) < 0 {
		v.Store(0)
	}
}
