package router_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/router"
)

// fakeSession is the transport seam: it records what it is handed.
type fakeSession struct {
	id, addr string
	fail     atomic.Bool // Deliver fails (session gone)

	mu  sync.Mutex
	got []*router.Delivery
	sig chan struct{} // receives a token per delivery (buffered, best effort)
}

func newFake(id, addr string) *fakeSession {
	return &fakeSession{id: id, addr: addr, sig: make(chan struct{}, 4096)}
}

func (f *fakeSession) BackendID() string { return f.id }
func (f *fakeSession) Address() string   { return f.addr }

var errFakeGone = errors.New("fake: session gone")

func (f *fakeSession) Deliver(_ context.Context, d *router.Delivery) error {
	if f.fail.Load() {
		return errFakeGone
	}
	f.mu.Lock()
	f.got = append(f.got, d)
	f.mu.Unlock()
	select {
	case f.sig <- struct{}{}:
	default:
	}
	return nil
}

// take returns and forgets what was delivered so far.
func (f *fakeSession) take() []*router.Delivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	got := f.got
	f.got = nil
	return got
}

// discard is a Session whose Deliver does nothing (benchmarks).
type discard struct {
	id, addr string
	n        atomic.Int64
}

func (d *discard) BackendID() string                               { return d.id }
func (d *discard) Address() string                                 { return d.addr }
func (d *discard) Deliver(context.Context, *router.Delivery) error { d.n.Add(1); return nil }

// hub is a Router over a memory engine.
type hub struct {
	*router.Router
	presence *memory.Presence
	rooms    *memory.Rooms
}

func newHub(tb testing.TB, cfg router.Config) *hub {
	tb.Helper()
	h := &hub{rooms: memory.NewRooms()}
	h.presence = memory.NewPresence(memory.PresenceConfig{
		OnExpire: func(name string, hd engine.Holder) { h.OnExpire(name, hd) },
	})
	h.Router = router.New(cfg, h.presence, h.rooms, nil)
	tb.Cleanup(func() {
		_ = h.presence.Close(context.Background())
		_ = h.rooms.Close(context.Background())
	})
	return h
}

func (h *hub) register(tb testing.TB, s router.Session) {
	tb.Helper()
	if err := h.Register(s); err != nil {
		tb.Fatal(err)
	}
}

func (h *hub) claim(tb testing.TB, s router.Session, name string) (engine.Holder, func()) {
	tb.Helper()
	prev, flush, err := h.Claim(tb.Context(), s, name)
	if err != nil {
		tb.Fatalf("Claim(%s, %q) = %v", s.BackendID(), name, err)
	}
	return prev, flush
}

func (h *hub) route(tb testing.TB, from *fakeSession, m router.Message) router.Result {
	tb.Helper()
	if from == nil { // a nil *fakeSession is not a nil Session
		return h.routeAny(tb, nil, m)
	}
	return h.routeAny(tb, from, m)
}

func (h *hub) routeAny(tb testing.TB, from router.Session, m router.Message) router.Result {
	tb.Helper()
	res, err := h.Route(tb.Context(), from, m)
	if err != nil {
		tb.Fatalf("Route %+v = %v", m, err)
	}
	return res
}

func data(format string, args ...any) []byte { return []byte(fmt.Sprintf(format, args...)) }
