package router_test

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/router"
)

// hookEngine runs before once, right before the next Join (of a name or
// a room) reaches the engine: the moment at which another goroutine can
// end the session (control's replace does) while one of its join_subs or
// join_room handlers is inside the router.
type hookEngine struct {
	engine.Presence
	before func()
}

func (p *hookEngine) hook() {
	if f := p.before; f != nil {
		p.before = nil
		f()
	}
}

func (p *hookEngine) Join(ctx context.Context, name, id string) (engine.Holder, error) {
	p.hook()
	return p.Presence.Join(ctx, name, id)
}

// memRouter is a Router over a memory presence (wrapped by wrap, when not
// nil, to hook into it) and rooms, with sessions registered; the engines
// close when t ends.
func memRouter(t *testing.T, cfg router.Config, wrap func(engine.Presence) engine.Presence, rooms engine.Rooms, sessions ...router.Session) *router.Router {
	t.Helper()
	var rt *router.Router
	mem := memory.NewPresence(memory.PresenceConfig{OnExpire: func(n string, h engine.Holder) { rt.OnExpire(n, h) }})
	t.Cleanup(func() { _ = mem.Close(context.Background()); _ = rooms.Close(context.Background()) })
	var pres engine.Presence = mem
	if wrap != nil {
		pres = wrap(mem)
	}
	rt = router.New(cfg, pres, rooms, nil)
	for _, s := range sessions {
		if err := rt.Register(s); err != nil {
			t.Fatal(err)
		}
	}
	return rt
}

// TestClaimRacingUnregister: a claim whose session is unregistered while
// it runs must not leave the name held live by the dead session (never
// orphaned, never expiring, NAME_TAKEN for everyone): the claim fails and
// the name is orphaned like the session's others, then free after the
// grace period.
func TestClaimRacingUnregister(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dying, other := newFake("dying", "http://127.0.0.1:3001"), newFake("other", "http://127.0.0.1:3002")
		var eng *hookEngine
		hook := func(p engine.Presence) engine.Presence { eng = &hookEngine{Presence: p}; return eng }
		rt := memRouter(t, router.Config{Grace: 30 * time.Second}, hook, memory.NewRooms(), dying, other)
		eng.before = func() {
			if _, err := rt.Unregister(context.Background(), "dying", "replaced"); err != nil {
				t.Error(err)
			}
		}
		if _, _, err := rt.Claim(context.Background(), dying, "alice"); !errors.Is(err, router.ErrNotRegistered) {
			t.Fatalf("claim by a session unregistered meanwhile: %v, want ErrNotRegistered", err)
		}
		if exists, _, h, _ := rt.Lookup(context.Background(), "alice"); !exists || !h.Orphaned {
			t.Fatalf("right after: exists %v, holder %+v: want orphaned", exists, h)
		}
		time.Sleep(time.Minute) // past the grace period
		synctest.Wait()
		if _, _, err := rt.Claim(context.Background(), other, "alice"); err != nil {
			t.Fatalf("claim by another backend after the grace period: %v", err)
		}
	})
}

// TestJoinRoomRacingUnregister: the same race for join_room must not leave
// the dead session in the room.
func TestJoinRoomRacingUnregister(t *testing.T) {
	dying, sender := newFake("dying", "http://127.0.0.1:3001"), newFake("sender", "http://127.0.0.1:3002")
	rooms := &roomHook{Rooms: memory.NewRooms()}
	rt := memRouter(t, router.Config{}, nil, rooms, dying, sender)
	rooms.before = func() {
		if _, err := rt.Unregister(context.Background(), "dying", "replaced"); err != nil {
			t.Error(err)
		}
	}
	if err := rt.JoinRoom(context.Background(), dying, "lobby"); !errors.Is(err, router.ErrNotRegistered) {
		t.Fatalf("join_room by a session unregistered meanwhile: %v, want ErrNotRegistered", err)
	}
	members, err := rooms.Members(context.Background(), "lobby")
	if err != nil || len(members) != 0 {
		t.Fatalf("room members %v, %v: want none", members, err)
	}
}

type roomHook struct {
	engine.Rooms
	before func()
}

func (r *roomHook) Join(ctx context.Context, room, id string) error {
	if f := r.before; f != nil {
		r.before = nil
		f()
	}
	return r.Rooms.Join(ctx, room, id)
}

// gatedSession is a session whose Deliver waits for gate (a receiver
// whose queue is full), counting what it took.
type gatedSession struct {
	*fakeSession
	gate chan struct{}
}

func (g *gatedSession) Deliver(ctx context.Context, d *router.Delivery) error {
	<-g.gate
	return g.fakeSession.Deliver(ctx, d)
}

// TestSendersWaitBehindFlush: while a claimed name's mailbox flush is
// stuck on a full receiver, deliveries for that session queue behind it up
// to a bound, then the sender waits (backpressure) instead of being
// answered at once while the queue grows without limit. Nothing is lost
// and the order holds once the receiver reads again.
func TestSendersWaitBehindFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old, sender := newFake("old", "http://127.0.0.1:3001"), newFake("sender", "http://127.0.0.1:3002")
		recv := &gatedSession{fakeSession: newFake("recv", "http://127.0.0.1:3003"), gate: make(chan struct{})}
		rt := memRouter(t, router.Config{Grace: time.Hour}, nil, memory.NewRooms(), old, sender, recv)
		ctx := context.Background()
		if _, flush, err := rt.Claim(ctx, old, "alice"); err != nil {
			t.Fatal(err)
		} else {
			flush()
		}
		if _, err := rt.Unregister(ctx, "old", "gone"); err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Route(ctx, sender, router.Message{To: []string{"alice"}, Data: []byte(`"held"`)}); err != nil {
			t.Fatal(err)
		}
		_, flush, err := rt.Claim(ctx, recv, "alice")
		if err != nil {
			t.Fatal(err)
		}
		go flush() // stuck on the gate with the held message

		const total = 5000 // more than the bound behind a flush
		var sent atomic.Int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range total {
				if _, err := rt.Route(ctx, sender, router.Message{To: []string{"alice"}, Data: []byte(strconv.Itoa(i))}); err != nil {
					t.Error(err)
					return
				}
				sent.Add(1)
			}
		}()
		synctest.Wait() // the flush and the sender are both blocked now
		if n := sent.Load(); n >= total {
			t.Fatalf("all %d messages were accepted while the receiver took nothing: no backpressure", n)
		}
		if rt.Stats().PendingWaits == 0 {
			t.Fatal("PendingWaits not counted")
		}
		close(recv.gate)
		<-done
		synctest.Wait()
		got := recv.take()
		if len(got) != total+1 || string(got[0].Data) != `"held"` {
			t.Fatalf("receiver got %d messages (first %s), want %d with the held one first", len(got), got[0].Data, total+1)
		}
		for i, d := range got[1:] {
			if string(d.Data) != strconv.Itoa(i) {
				t.Fatalf("message %d is %s: out of order", i, d.Data)
			}
		}
	})
}
