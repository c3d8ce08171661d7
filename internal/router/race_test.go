package router_test

import (
	"context"
	"errors"
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

// TestClaimRacingUnregister: a claim whose session is unregistered while
// it runs must not leave the name held live by the dead session (never
// orphaned, never expiring, NAME_TAKEN for everyone): the claim fails and
// the name is orphaned like the session's others, then free after the
// grace period.
func TestClaimRacingUnregister(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var rt *router.Router
		mem := memory.NewPresence(memory.PresenceConfig{OnExpire: func(n string, h engine.Holder) { rt.OnExpire(n, h) }})
		defer mem.Close(context.Background())
		rooms := memory.NewRooms()
		defer rooms.Close(context.Background())
		eng := &hookEngine{Presence: mem}
		rt = router.New(router.Config{Grace: 30 * time.Second}, eng, rooms, nil)
		dying, other := newFake("dying", "http://127.0.0.1:3001"), newFake("other", "http://127.0.0.1:3002")
		for _, s := range []*fakeSession{dying, other} {
			if err := rt.Register(s); err != nil {
				t.Fatal(err)
			}
		}
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
	var rt *router.Router
	mem := memory.NewPresence(memory.PresenceConfig{OnExpire: func(n string, h engine.Holder) { rt.OnExpire(n, h) }})
	defer mem.Close(context.Background())
	rooms := &roomHook{Rooms: memory.NewRooms()}
	defer rooms.Close(context.Background())
	rt = router.New(router.Config{}, mem, rooms, nil)
	dying, sender := newFake("dying", "http://127.0.0.1:3001"), newFake("sender", "http://127.0.0.1:3002")
	for _, s := range []*fakeSession{dying, sender} {
		if err := rt.Register(s); err != nil {
			t.Fatal(err)
		}
	}
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
