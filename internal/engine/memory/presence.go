package memory

import (
	"context"
	"sync"
	"time"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// Timer is the part of *time.Timer Presence uses.
type Timer interface {
	// Stop prevents the timer from firing; false if it already fired or
	// was stopped.
	Stop() bool
}

// PresenceConfig configures a Presence. The zero value is usable.
type PresenceConfig struct {
	// OnExpire is called, outside locks and in a timer goroutine, for each
	// orphaned name freed at the end of its grace period (default: nothing).
	OnExpire engine.ExpireFunc
	// Now is the clock (default time.Now).
	Now func() time.Time
	// AfterFunc schedules f after d (default time.AfterFunc).
	AfterFunc func(d time.Duration, f func()) Timer
}

// Presence is the in-memory engine.Presence. Safe for concurrent use; Lookup
// takes a read lock only. Create it with NewPresence.
type Presence struct {
	onExpire  engine.ExpireFunc
	now       func() time.Time
	afterFunc func(d time.Duration, f func()) Timer

	mu        sync.RWMutex
	names     map[string]*entry            // mu: every held or orphaned name
	byBackend map[string]map[string]*entry // mu: live names per backend ID
	batches   map[*orphanBatch]struct{}    // mu: pending grace timers
	closed    bool                         // mu

	wg sync.WaitGroup // one per scheduled grace timer, until it ran or was stopped
}

// entry is one name's state; orphaning mutates it in place, a new claim
// replaces it (so a grace timer recognises the entry it orphaned).
type entry struct {
	h engine.Holder
}

// orphanBatch is the names orphaned by one OrphanBackend call, freed together.
type orphanBatch struct {
	names   []string
	entries []*entry
	timer   Timer
}

var _ engine.Presence = (*Presence)(nil)

// NewPresence returns an empty Presence. It starts no goroutine; grace timers
// run in their own timer goroutines, which Close stops and waits for.
func NewPresence(cfg PresenceConfig) *Presence {
	p := &Presence{
		onExpire:  cfg.OnExpire,
		now:       cfg.Now,
		afterFunc: cfg.AfterFunc,
		names:     make(map[string]*entry),
		byBackend: make(map[string]map[string]*entry),
		batches:   make(map[*orphanBatch]struct{}),
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.afterFunc == nil {
		p.afterFunc = func(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
	}
	if p.onExpire == nil {
		p.onExpire = func(string, engine.Holder) {}
	}
	return p
}

// Join implements engine.Presence.
func (p *Presence) Join(_ context.Context, name, backendID string) (engine.Holder, error) {
	if name == "" || backendID == "" {
		return engine.Holder{}, engine.ErrInvalidName
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return engine.Holder{}, engine.ErrClosed
	}
	var prev engine.Holder
	if e := p.names[name]; e != nil {
		switch {
		case e.h.Orphaned:
			prev = e.h
		case e.h.Backend == backendID:
			return e.h, nil
		default:
			return engine.Holder{}, &engine.TakenError{Name: name, Holder: e.h.Backend}
		}
	}
	e := &entry{h: engine.Holder{Backend: backendID, Since: p.now()}}
	p.names[name] = e
	m := p.byBackend[backendID]
	if m == nil {
		m = make(map[string]*entry)
		p.byBackend[backendID] = m
	}
	m[name] = e
	return prev, nil
}

// Leave implements engine.Presence.
func (p *Presence) Leave(_ context.Context, name, backendID string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return engine.ErrClosed
	}
	e := p.names[name]
	if e == nil {
		return engine.ErrNotFound
	}
	if e.h.Orphaned || e.h.Backend != backendID {
		return engine.ErrNotHolder
	}
	delete(p.names, name)
	if m := p.byBackend[backendID]; m != nil {
		delete(m, name)
		if len(m) == 0 {
			delete(p.byBackend, backendID)
		}
	}
	return nil
}

// Lookup implements engine.Presence.
func (p *Presence) Lookup(_ context.Context, name string) (engine.Holder, error) {
	p.mu.RLock()
	e := p.names[name]
	closed := p.closed
	var h engine.Holder
	if e != nil {
		h = e.h
	}
	p.mu.RUnlock()
	switch {
	case closed:
		return engine.Holder{}, engine.ErrClosed
	case e == nil:
		return engine.Holder{}, engine.ErrNotFound
	}
	return h, nil
}

// OrphanBackend implements engine.Presence.
func (p *Presence) OrphanBackend(_ context.Context, backendID string, grace time.Duration) ([]string, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, engine.ErrClosed
	}
	m := p.byBackend[backendID]
	delete(p.byBackend, backendID)
	if len(m) == 0 {
		p.mu.Unlock()
		return nil, nil
	}
	now := p.now()
	b := &orphanBatch{names: make([]string, 0, len(m)), entries: make([]*entry, 0, len(m))}
	for name, e := range m {
		e.h.Orphaned = true
		e.h.Since = now
		e.h.Until = now.Add(max(grace, 0))
		b.names = append(b.names, name)
		b.entries = append(b.entries, e)
	}
	names := append([]string(nil), b.names...)
	if grace <= 0 {
		expired := p.freeLocked(b)
		p.mu.Unlock()
		p.notify(b, expired)
		return names, nil
	}
	p.batches[b] = struct{}{}
	p.wg.Add(1)
	b.timer = p.afterFunc(grace, func() { p.expire(b) })
	p.mu.Unlock()
	return names, nil
}

// expire runs in the grace timer's goroutine.
func (p *Presence) expire(b *orphanBatch) {
	defer p.wg.Done()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	delete(p.batches, b)
	expired := p.freeLocked(b)
	p.mu.Unlock()
	p.notify(b, expired)
}

// freeLocked deletes the batch's names that are still in the state the batch
// orphaned them in, and returns their indexes. p.mu must be held.
func (p *Presence) freeLocked(b *orphanBatch) []int {
	var expired []int
	for i, name := range b.names {
		if e := p.names[name]; e == b.entries[i] && e.h.Orphaned {
			delete(p.names, name)
			expired = append(expired, i)
		}
	}
	return expired
}

func (p *Presence) notify(b *orphanBatch, expired []int) {
	for _, i := range expired {
		p.onExpire(b.names[i], b.entries[i].h)
	}
}

// Names implements engine.Presence.
func (p *Presence) Names(_ context.Context, backendID string) ([]string, error) {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.closed {
		return nil, engine.ErrClosed
	}
	m := p.byBackend[backendID]
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	return names, nil
}

// Close implements engine.Presence: pending grace timers are stopped (their
// names are not reported), running OnExpire calls are waited for.
func (p *Presence) Close(context.Context) error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		for b := range p.batches {
			if b.timer.Stop() {
				p.wg.Done()
			}
		}
		clear(p.batches)
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}
