package memory

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// Broker is the in-memory engine.Broker: Publish calls each subscriber's
// handler synchronously, in the publisher's goroutine, one call at a time per
// subscription (so per-subscription order is publish order). Safe for
// concurrent use.
type Broker struct {
	mu     sync.RWMutex
	subs   map[string][]*subscription // mu: subject → subscriptions (replaced, never modified)
	closed bool                       // mu
}

type subscription struct {
	h    func(engine.Message)
	mu   sync.Mutex  // serialises calls of h
	done atomic.Bool // set by unsubscribe or Close; checked before each call
}

var _ engine.Broker = (*Broker)(nil)

// NewBroker returns a Broker without subscriptions.
func NewBroker() *Broker { return &Broker{subs: make(map[string][]*subscription)} }

// Publish implements engine.Broker.
func (b *Broker) Publish(_ context.Context, subject string, m engine.Message) error {
	b.mu.RLock()
	subs, closed := b.subs[subject], b.closed
	b.mu.RUnlock()
	if closed {
		return engine.ErrClosed
	}
	for _, s := range subs {
		s.mu.Lock()
		if !s.done.Load() {
			s.h(m)
		}
		s.mu.Unlock()
	}
	return nil
}

// Subscribe implements engine.Broker.
func (b *Broker) Subscribe(_ context.Context, subject string, h func(engine.Message)) (func() error, error) {
	s := &subscription{h: h}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil, engine.ErrClosed
	}
	b.subs[subject] = append(slices.Clip(b.subs[subject]), s)
	unsubscribe := func() error {
		if s.done.Swap(true) {
			return nil
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		old := b.subs[subject]
		i := slices.Index(old, s)
		if i < 0 {
			return nil
		}
		if len(old) == 1 {
			delete(b.subs, subject)
			return nil
		}
		b.subs[subject] = slices.Delete(slices.Clone(old), i, i+1)
		return nil
	}
	return unsubscribe, nil
}

// Close implements engine.Broker.
func (b *Broker) Close(context.Context) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	for _, subs := range b.subs {
		for _, s := range subs {
			s.done.Store(true)
		}
	}
	clear(b.subs)
	return nil
}
