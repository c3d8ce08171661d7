package backend

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// EventKind tells what happened to a backend in the pool.
type EventKind int

// Event kinds.
const (
	// Joined: the backend was added to the pool.
	Joined EventKind = iota + 1
	// Left: the backend was removed (or replaced by another one with the same Addr).
	Left
	// Changed: the backend stayed in the pool but whether it takes new
	// work changed (it started or stopped draining, or failed or passed
	// its health checks); see Touch.
	Changed
)

func (k EventKind) String() string {
	switch k {
	case Joined:
		return "joined"
	case Left:
		return "left"
	case Changed:
		return "changed"
	}
	return "unknown"
}

// Event is one change of the pool, delivered to subscribers.
type Event struct {
	Kind    EventKind
	Backend *Backend
}

type subscriber struct {
	id int
	fn func(Event)
}

// snapshot is one immutable version of the pool.
type snapshot struct {
	list []*Backend
	byID map[string]*Backend
}

// Registry is the pool of backends. Readers (Snapshot, Get) never lock: they
// load an immutable copy-on-write snapshot. Writers copy it under a mutex.
// Subscribers are called outside every lock, in the order of the changes;
// the zero Registry is not usable, use NewRegistry.
type Registry struct {
	cur atomic.Pointer[snapshot]

	mu      sync.Mutex // guards writes of cur, subs, nextSub, pending, delivering
	subs    []subscriber
	nextSub int
	pending []Event
	// delivering is true while one goroutine drains pending; it keeps the
	// order of events when writers race.
	delivering bool
	// retryMin, retryMax are given to every backend added (SetRetryBackoff).
	retryMin, retryMax time.Duration
	// retired are backends that left the pool with proxied work still
	// running (Load); each is dropped once its work is done.
	retired []*Backend
}

// SetRetryBackoff sets the back-off given to backends added from now on: a
// backend whose dial fails is out of rotation for min, doubling on each
// consecutive failure up to max. Zero values keep CircuitMin/CircuitMax.
// Call it before the registry is shared.
func (r *Registry) SetRetryBackoff(min, max time.Duration) {
	r.mu.Lock()
	r.retryMin, r.retryMax = min, max
	r.mu.Unlock()
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	r := &Registry{}
	r.cur.Store(&snapshot{byID: map[string]*Backend{}})
	return r
}

// Snapshot returns the current pool in insertion order. The slice is shared
// and must not be modified; it stays valid (and unchanged) after later writes.
func (r *Registry) Snapshot() []*Backend { return r.cur.Load().list }

// Get returns the backend with id, or nil.
func (r *Registry) Get(id string) *Backend { return r.cur.Load().byID[id] }

// Len returns the number of backends in the pool.
func (r *Registry) Len() int { return len(r.cur.Load().list) }

// Add inserts b. A backend already present with the same Addr (or the same
// ID) is replaced and returned, and subscribers see it leave before b joins.
// b must not be modified after Add.
func (r *Registry) Add(b *Backend) (old *Backend) {
	r.mu.Lock()
	b.retryMin, b.retryMax = r.retryMin, r.retryMax
	s := r.cur.Load()
	next := &snapshot{list: make([]*Backend, 0, len(s.list)+1), byID: make(map[string]*Backend, len(s.byID)+1)}
	var removed []*Backend
	for _, x := range s.list {
		if x.Addr == b.Addr || x.ID == b.ID {
			removed = append(removed, x)
			continue
		}
		next.list = append(next.list, x)
		next.byID[x.ID] = x
	}
	next.list = append(next.list, b)
	next.byID[b.ID] = b
	r.cur.Store(next)
	for _, x := range removed {
		r.retireLocked(x)
		r.pending = append(r.pending, Event{Kind: Left, Backend: x})
		if x.Addr == b.Addr {
			old = x
		}
	}
	if old == nil && len(removed) > 0 {
		old = removed[0]
	}
	r.pending = append(r.pending, Event{Kind: Joined, Backend: b})
	r.deliverLocked()
	return old
}

// Remove deletes the backend with id and returns it, or nil when absent.
func (r *Registry) Remove(id string) *Backend {
	r.mu.Lock()
	s := r.cur.Load()
	b := s.byID[id]
	if b == nil {
		r.mu.Unlock()
		return nil
	}
	r.removeLocked(s, b)
	return b
}

// RemoveBackend deletes b if it is still the backend registered under its
// ID (not a replacement), reporting whether it did.
func (r *Registry) RemoveBackend(b *Backend) bool {
	r.mu.Lock()
	s := r.cur.Load()
	if s.byID[b.ID] != b {
		r.mu.Unlock()
		return false
	}
	r.removeLocked(s, b)
	return true
}

// removeLocked publishes s without b, queues Left and releases r.mu.
func (r *Registry) removeLocked(s *snapshot, b *Backend) {
	next := &snapshot{list: make([]*Backend, 0, len(s.list)), byID: make(map[string]*Backend, len(s.byID))}
	for _, x := range s.list {
		if x != b {
			next.list = append(next.list, x)
			next.byID[x.ID] = x
		}
	}
	r.cur.Store(next)
	r.retireLocked(b)
	r.pending = append(r.pending, Event{Kind: Left, Backend: b})
	r.deliverLocked()
}

// retireLocked keeps b, which left the pool, while it has proxied work,
// and forgets the retired backends whose work is done.
func (r *Registry) retireLocked(b *Backend) {
	r.pruneRetiredLocked()
	if b.busy() {
		r.retired = append(r.retired, b)
	}
}

// pruneRetiredLocked forgets the retired backends whose work is done.
func (r *Registry) pruneRetiredLocked() {
	r.retired = slices.DeleteFunc(r.retired, func(x *Backend) bool { return !x.busy() })
}

// loadAt sums the requests in flight and the tunnels of the backends in
// list at addr.
func loadAt(list []*Backend, addr string) (inFlight, tunnels int64) {
	for _, b := range list {
		if b.Addr == addr {
			inFlight += b.InFlight()
			tunnels += b.Tunnels()
		}
	}
	return inFlight, tunnels
}

// Load returns the proxied requests in flight and the open tunnels to the
// backend at addr (host:port): those of the backend in the pool and those
// of earlier backends at addr that left it while their work still ran. A
// backend whose channel session ended and that registered again is a new
// Backend, but the requests and tunnels of the old one still load the
// same server.
func (r *Registry) Load(addr string) (inFlight, tunnels int64) {
	inFlight, tunnels = loadAt(r.cur.Load().list, addr)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pruneRetiredLocked()
	in, tun := loadAt(r.retired, addr)
	return inFlight + in, tunnels + tun
}

// Touch tells the subscribers that b's draining or health state changed
// (a Changed event). It does nothing when b is not in the pool.
func (r *Registry) Touch(b *Backend) {
	r.mu.Lock()
	if r.cur.Load().byID[b.ID] != b {
		r.mu.Unlock()
		return
	}
	r.pending = append(r.pending, Event{Kind: Changed, Backend: b})
	r.deliverLocked()
}

// Subscribe registers fn to be called for every later change. fn runs
// outside the registry's lock, one event at a time, in order; it must not
// block for long (it may call the Registry). The returned func unsubscribes.
// An event may be delivered by another writer's goroutine shortly after the
// call that caused it returned.
func (r *Registry) Subscribe(fn func(Event)) (unsubscribe func()) {
	r.mu.Lock()
	id := r.nextSub
	r.nextSub++
	r.subs = append(r.subs, subscriber{id: id, fn: fn})
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		for i, s := range r.subs {
			if s.id == id {
				r.subs = append(r.subs[:i:i], r.subs[i+1:]...)
				break
			}
		}
		r.mu.Unlock()
	}
}

// deliverLocked is called with r.mu held and releases it. If no other
// goroutine is delivering, it drains pending, calling subscribers without
// the lock.
func (r *Registry) deliverLocked() {
	if r.delivering {
		r.mu.Unlock()
		return
	}
	r.delivering = true
	for len(r.pending) > 0 {
		ev := r.pending[0]
		r.pending = r.pending[1:]
		fns := make([]func(Event), 0, len(r.subs))
		for _, s := range r.subs {
			fns = append(fns, s.fn)
		}
		r.mu.Unlock()
		for _, fn := range fns {
			fn(ev)
		}
		r.mu.Lock()
	}
	r.pending = nil
	r.delivering = false
	r.mu.Unlock()
}
