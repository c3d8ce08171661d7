package enginetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// Engine is one engine's three parts under test. Every field must be set.
type Engine struct {
	Presence engine.Presence
	Rooms    engine.Rooms
	Broker   engine.Broker
}

// Config is what the suite asks of a factory.
type Config struct {
	// OnExpire must be given to the Presence as its expiry callback.
	OnExpire engine.ExpireFunc
}

// Factory builds a fresh, empty Engine for one subtest. It may be called
// inside a testing/synctest bubble (for the grace-period tests), so it must
// create its timers there: no goroutine started outside the call may own
// them. The suite closes the parts at the end of each subtest; the factory
// may also register cleanups of its own.
type Factory func(t *testing.T, cfg Config) Engine

// Run runs the conformance suite against engines built by factory.
func Run(t *testing.T, factory Factory) {
	t.Helper()
	mk := func(t *testing.T, onExpire engine.ExpireFunc) Engine {
		t.Helper()
		if onExpire == nil {
			onExpire = func(string, engine.Holder) {}
		}
		e := factory(t, Config{OnExpire: onExpire})
		if e.Presence == nil || e.Rooms == nil || e.Broker == nil {
			t.Fatal("enginetest: factory returned an Engine with a nil part")
		}
		t.Cleanup(func() {
			ctx := context.Background()
			_ = e.Broker.Close(ctx)
			_ = e.Rooms.Close(ctx)
			_ = e.Presence.Close(ctx)
		})
		return e
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine)
	}{
		{"PresenceJoinLookup", testJoinLookup},
		{"PresenceJoinIdempotent", testJoinIdempotent},
		{"PresenceJoinTaken", testJoinTaken},
		{"PresenceConcurrentClaims", testConcurrentClaims},
		{"PresenceLeave", testLeave},
		{"PresenceOrphanReclaim", testOrphanReclaim},
		{"PresenceConcurrentReclaim", testConcurrentReclaim},
		{"PresenceGraceExpiry", testGraceExpiry},
		{"PresenceZeroGrace", testZeroGrace},
		{"PresenceClose", testPresenceClose},
		{"RoomsMembership", testRooms},
		{"RoomsConcurrent", testRoomsConcurrent},
		{"RoomsClose", testRoomsClose},
		{"BrokerOrder", testBrokerOrder},
		{"BrokerSubjects", testBrokerSubjects},
		{"BrokerUnsubscribe", testBrokerUnsubscribe},
		{"BrokerClose", testBrokerClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, mk)
		})
	}
}

const waitFor = 10 * time.Second

func recv[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	tm := time.NewTimer(waitFor)
	defer tm.Stop()
	select {
	case v := <-ch:
		return v
	case <-tm.C:
		t.Fatalf("timeout waiting for %s", what)
		panic("unreachable")
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func mustJoin(t *testing.T, p engine.Presence, name, backend string) engine.Holder {
	t.Helper()
	prev, err := p.Join(t.Context(), name, backend)
	if err != nil {
		t.Fatalf("Join(%q, %q) = %v", name, backend, err)
	}
	return prev
}

func wantHolder(t *testing.T, p engine.Presence, name, backend string, orphaned bool) engine.Holder {
	t.Helper()
	h, err := p.Lookup(t.Context(), name)
	if err != nil {
		t.Fatalf("Lookup(%q) = %v, want holder %s", name, err, backend)
	}
	if h.Backend != backend || h.Orphaned != orphaned {
		t.Fatalf("Lookup(%q) = %+v, want backend %s orphaned %v", name, h, backend, orphaned)
	}
	return h
}

func wantFree(t *testing.T, p engine.Presence, name string) {
	t.Helper()
	if h, err := p.Lookup(t.Context(), name); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("Lookup(%q) = %+v, %v; want ErrNotFound", name, h, err)
	}
}

func wantNames(t *testing.T, p engine.Presence, backend string, want ...string) {
	t.Helper()
	got, err := p.Names(t.Context(), backend)
	if err != nil {
		t.Fatalf("Names(%q) = %v", backend, err)
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("Names(%q) = %v, want %v", backend, sorted(got), sorted(want))
	}
}

func testJoinLookup(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	wantFree(t, p, "sadman")
	if prev := mustJoin(t, p, "sadman", "b1"); prev != (engine.Holder{}) {
		t.Fatalf("Join of a free name: prev = %+v, want zero", prev)
	}
	mustJoin(t, p, "alif", "b1")
	mustJoin(t, p, "ihsan", "b2")
	h := wantHolder(t, p, "sadman", "b1", false)
	if h.Since.IsZero() || !h.Until.IsZero() {
		t.Fatalf("live holder %+v: want Since set, Until zero", h)
	}
	wantHolder(t, p, "ihsan", "b2", false)
	wantNames(t, p, "b1", "sadman", "alif")
	wantNames(t, p, "b2", "ihsan")
	wantNames(t, p, "b3")
}

func testJoinIdempotent(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	mustJoin(t, p, "alif", "b1")
	prev := mustJoin(t, p, "alif", "b1")
	if prev.Backend != "b1" || prev.Orphaned {
		t.Fatalf("re-join by holder: prev = %+v, want live b1", prev)
	}
	wantHolder(t, p, "alif", "b1", false)
	wantNames(t, p, "b1", "alif")
}

func testJoinTaken(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	mustJoin(t, p, "baki", "b3")
	_, err := p.Join(t.Context(), "baki", "b1")
	if !errors.Is(err, engine.ErrNameTaken) {
		t.Fatalf("Join of a held name = %v, want ErrNameTaken", err)
	}
	var te *engine.TakenError
	if !errors.As(err, &te) || te.Holder != "b3" {
		t.Fatalf("Join of a held name: %v, want *TakenError with Holder b3", err)
	}
	if engine.Code(err) != "NAME_TAKEN" {
		t.Fatalf("Code = %q", engine.Code(err))
	}
	wantHolder(t, p, "baki", "b3", false)
	wantNames(t, p, "b1")
}

// testConcurrentClaims: N backends claim one name at once; exactly one wins
// and every loser is told the winner.
func testConcurrentClaims(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	const rounds, n = 20, 8
	for r := range rounds {
		name := fmt.Sprintf("user-%d", r)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				_, errs[i] = p.Join(t.Context(), name, fmt.Sprintf("b%d", i))
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Fatalf("%s: backends b%d and b%d both won", name, winner, i)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no claim won: %v", name, errs)
		}
		win := fmt.Sprintf("b%d", winner)
		for i, err := range errs {
			if i == winner {
				continue
			}
			var te *engine.TakenError
			if !errors.As(err, &te) || te.Holder != win {
				t.Fatalf("%s: loser b%d got %v, want *TakenError{Holder: %s}", name, i, err, win)
			}
		}
		wantHolder(t, p, name, win, false)
	}
}

func testLeave(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	ctx := t.Context()
	if err := p.Leave(ctx, "ahsan", "b3"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("Leave of a free name = %v, want ErrNotFound", err)
	}
	mustJoin(t, p, "ahsan", "b3")
	if err := p.Leave(ctx, "ahsan", "b1"); !errors.Is(err, engine.ErrNotHolder) {
		t.Fatalf("Leave by non-holder = %v, want ErrNotHolder", err)
	}
	wantHolder(t, p, "ahsan", "b3", false)
	if err := p.Leave(ctx, "ahsan", "b3"); err != nil {
		t.Fatalf("Leave by holder = %v", err)
	}
	wantFree(t, p, "ahsan")
	wantNames(t, p, "b3")
	mustJoin(t, p, "ahsan", "b1") // free again
}

func testOrphanReclaim(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	ctx := t.Context()
	mustJoin(t, p, "ahsan", "b3")
	mustJoin(t, p, "baki", "b3")
	mustJoin(t, p, "ihsan", "b2")
	names, err := p.OrphanBackend(ctx, "b3", time.Hour)
	if err != nil || !slices.Equal(sorted(names), []string{"ahsan", "baki"}) {
		t.Fatalf("OrphanBackend = %v, %v; want [ahsan baki]", names, err)
	}
	h := wantHolder(t, p, "ahsan", "b3", true)
	if h.Until.Sub(h.Since) != time.Hour {
		t.Fatalf("orphan holder %+v: want Until = Since + 1h", h)
	}
	wantNames(t, p, "b3")
	wantHolder(t, p, "ihsan", "b2", false)
	if again, err := p.OrphanBackend(ctx, "b3", time.Hour); err != nil || len(again) != 0 {
		t.Fatalf("second OrphanBackend = %v, %v; want nothing", again, err)
	}
	if err := p.Leave(ctx, "ahsan", "b3"); !errors.Is(err, engine.ErrNotHolder) {
		t.Fatalf("Leave of an orphaned name by its old holder = %v, want ErrNotHolder", err)
	}
	prev := mustJoin(t, p, "ahsan", "b1")
	if !prev.Orphaned || prev.Backend != "b3" {
		t.Fatalf("reclaim: prev = %+v, want orphaned b3", prev)
	}
	wantHolder(t, p, "ahsan", "b1", false)
	wantNames(t, p, "b1", "ahsan")
	// Now live again: another backend is refused.
	if _, err := p.Join(ctx, "ahsan", "b2"); !errors.Is(err, engine.ErrNameTaken) {
		t.Fatalf("Join of a reclaimed name = %v, want ErrNameTaken", err)
	}
}

func testConcurrentReclaim(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	p := mk(t, nil).Presence
	mustJoin(t, p, "sadman", "old")
	if _, err := p.OrphanBackend(t.Context(), "old", time.Hour); err != nil {
		t.Fatal(err)
	}
	const n = 8
	prevs := make([]engine.Holder, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			prevs[i], errs[i] = p.Join(t.Context(), "sadman", fmt.Sprintf("b%d", i))
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			if !prevs[i].Orphaned || prevs[i].Backend != "old" {
				t.Fatalf("winner b%d: prev = %+v, want orphaned old", i, prevs[i])
			}
		case !errors.Is(err, engine.ErrNameTaken):
			t.Fatalf("loser b%d: %v, want ErrNameTaken", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d reclaims won, want exactly 1", winners)
	}
}

type expiry struct {
	name string
	h    engine.Holder
}

// testGraceExpiry: orphaned names are freed after the grace period and
// reported once each; a name reclaimed meanwhile is neither freed nor
// reported.
func testGraceExpiry(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	synctest.Test(t, func(t *testing.T) {
		expired := make(chan expiry, 16)
		p := mk(t, func(name string, h engine.Holder) { expired <- expiry{name, h} }).Presence
		ctx := t.Context()
		mustJoin(t, p, "ahsan", "b3")
		mustJoin(t, p, "baki", "b3")
		mustJoin(t, p, "ihsan", "b2")
		if _, err := p.OrphanBackend(ctx, "b3", 30*time.Second); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		if prev := mustJoin(t, p, "baki", "b1"); !prev.Orphaned {
			t.Fatalf("reclaim: prev = %+v", prev)
		}
		time.Sleep(19 * time.Second)
		synctest.Wait()
		select {
		case e := <-expired:
			t.Fatalf("expiry %+v before the grace period ended", e)
		default:
		}
		wantHolder(t, p, "ahsan", "b3", true)

		time.Sleep(2 * time.Second)
		synctest.Wait()
		var got []expiry
		for len(expired) > 0 {
			got = append(got, <-expired)
		}
		if len(got) != 1 || got[0].name != "ahsan" || got[0].h.Backend != "b3" || !got[0].h.Orphaned {
			t.Fatalf("expiries = %+v, want one for ahsan (orphaned b3)", got)
		}
		wantFree(t, p, "ahsan")
		wantHolder(t, p, "baki", "b1", false)
		wantHolder(t, p, "ihsan", "b2", false)
		if prev := mustJoin(t, p, "ahsan", "b2"); prev != (engine.Holder{}) {
			t.Fatalf("claim of an expired name: prev = %+v, want zero", prev)
		}
	})
}

func testZeroGrace(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	synctest.Test(t, func(t *testing.T) {
		expired := make(chan expiry, 4)
		p := mk(t, func(name string, h engine.Holder) { expired <- expiry{name, h} }).Presence
		mustJoin(t, p, "alif", "b1")
		if _, err := p.OrphanBackend(t.Context(), "b1", 0); err != nil {
			t.Fatal(err)
		}
		e := recv(t, expired, "expiry with zero grace")
		if e.name != "alif" {
			t.Fatalf("expired %q, want alif", e.name)
		}
		wantFree(t, p, "alif")
	})
}

// testPresenceClose: Close is idempotent, stops pending grace timers without
// reporting them, and later calls fail with ErrClosed.
func testPresenceClose(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	synctest.Test(t, func(t *testing.T) {
		expired := make(chan expiry, 4)
		p := mk(t, func(name string, h engine.Holder) { expired <- expiry{name, h} }).Presence
		ctx := t.Context()
		mustJoin(t, p, "alif", "b1")
		if _, err := p.OrphanBackend(ctx, "b1", time.Minute); err != nil {
			t.Fatal(err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("Close = %v", err)
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if len(expired) != 0 {
			t.Fatalf("expiry reported after Close: %+v", <-expired)
		}
		if _, err := p.Join(ctx, "x", "b1"); !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("Join after Close = %v, want ErrClosed", err)
		}
		if _, err := p.Lookup(ctx, "alif"); !errors.Is(err, engine.ErrClosed) {
			t.Fatalf("Lookup after Close = %v, want ErrClosed", err)
		}
	})
}

func wantMembers(t *testing.T, r engine.Rooms, room string, want ...string) {
	t.Helper()
	got, err := r.Members(t.Context(), room)
	if err != nil {
		t.Fatalf("Members(%q) = %v", room, err)
	}
	if !slices.Equal(sorted(got), sorted(want)) {
		t.Fatalf("Members(%q) = %v, want %v", room, sorted(got), sorted(want))
	}
}

func testRooms(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	r := mk(t, nil).Rooms
	ctx := t.Context()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	wantMembers(t, r, "lobby")
	must(r.Join(ctx, "lobby", "b1"))
	must(r.Join(ctx, "lobby", "b2"))
	must(r.Join(ctx, "lobby", "b2")) // idempotent
	must(r.Join(ctx, "games", "b3"))
	must(r.Join(ctx, "games", "b2"))
	before, _ := r.Members(ctx, "lobby")
	before = slices.Clone(before)
	wantMembers(t, r, "lobby", "b1", "b2")
	wantMembers(t, r, "games", "b2", "b3")
	must(r.Leave(ctx, "lobby", "b1"))
	must(r.Leave(ctx, "lobby", "b1")) // not a member: no error
	must(r.Leave(ctx, "nowhere", "b1"))
	wantMembers(t, r, "lobby", "b2")
	if !slices.Equal(sorted(before), []string{"b1", "b2"}) {
		t.Fatalf("a Members slice changed after Leave: %v", before)
	}
	must(r.DropBackend(ctx, "b2"))
	wantMembers(t, r, "lobby")
	wantMembers(t, r, "games", "b3")
	must(r.DropBackend(ctx, "b9"))
	must(r.Join(ctx, "lobby", "b2")) // may rejoin after a drop
	wantMembers(t, r, "lobby", "b2")
}

func testRoomsConcurrent(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	r := mk(t, nil).Rooms
	const n = 8
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			id := fmt.Sprintf("b%d", i)
			for j := range 50 {
				room := fmt.Sprintf("r%d", j%5)
				if err := r.Join(t.Context(), room, id); err != nil {
					t.Error(err)
					return
				}
				if _, err := r.Members(t.Context(), room); err != nil {
					t.Error(err)
					return
				}
				if i%2 == 1 {
					if err := r.Leave(t.Context(), room, id); err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	for j := range 5 {
		wantMembers(t, r, fmt.Sprintf("r%d", j), "b0", "b2", "b4", "b6")
	}
}

func testRoomsClose(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	r := mk(t, nil).Rooms
	ctx := t.Context()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Join(ctx, "lobby", "b1"); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Join after Close = %v, want ErrClosed", err)
	}
}

func subscribe(t *testing.T, b engine.Broker, subject string, buf int) (<-chan engine.Message, func() error) {
	t.Helper()
	ch := make(chan engine.Message, buf)
	unsub, err := b.Subscribe(t.Context(), subject, func(m engine.Message) {
		select {
		case ch <- m:
		default:
			t.Errorf("subscriber of %s: buffer of %d full", subject, buf)
		}
	})
	if err != nil {
		t.Fatalf("Subscribe(%q) = %v", subject, err)
	}
	return ch, unsub
}

func testBrokerOrder(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	b := mk(t, nil).Broker
	const n = 500
	ch1, _ := subscribe(t, b, "node.a", n)
	ch2, _ := subscribe(t, b, "node.a", n)
	for i := range n {
		m := engine.Message{ID: fmt.Sprint(i), From: "sadman", Backend: "http://127.0.0.1:3001",
			To: []string{"alif"}, Data: []byte(fmt.Sprintf(`{"n":%d}`, i)), Attachments: [][]byte{{byte(i)}}}
		if err := b.Publish(t.Context(), "node.a", m); err != nil {
			t.Fatalf("Publish = %v", err)
		}
	}
	for _, ch := range []<-chan engine.Message{ch1, ch2} {
		for i := range n {
			m := recv(t, ch, fmt.Sprintf("message %d", i))
			if m.ID != fmt.Sprint(i) || string(m.Data) != fmt.Sprintf(`{"n":%d}`, i) ||
				m.From != "sadman" || m.Backend != "http://127.0.0.1:3001" ||
				!slices.Equal(m.To, []string{"alif"}) || len(m.Attachments) != 1 || m.Attachments[0][0] != byte(i) {
				t.Fatalf("message %d arrived as %+v", i, m)
			}
		}
	}
}

func testBrokerSubjects(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	b := mk(t, nil).Broker
	chA, _ := subscribe(t, b, "a", 4)
	chB, _ := subscribe(t, b, "b", 4)
	if err := b.Publish(t.Context(), "a", engine.Message{ID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), "b", engine.Message{ID: "2"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(t.Context(), "nobody", engine.Message{ID: "3"}); err != nil {
		t.Fatalf("Publish without subscribers = %v", err)
	}
	if m := recv(t, chA, "a"); m.ID != "1" {
		t.Fatalf("subject a got %q", m.ID)
	}
	if m := recv(t, chB, "b"); m.ID != "2" {
		t.Fatalf("subject b got %q", m.ID)
	}
	// A witness published after: once it arrives on b, nothing else may
	// have arrived on a.
	if err := b.Publish(t.Context(), "b", engine.Message{ID: "4"}); err != nil {
		t.Fatal(err)
	}
	recv(t, chB, "witness")
	if len(chA) != 0 {
		t.Fatalf("subject a received another subject's message: %+v", <-chA)
	}
}

func testBrokerUnsubscribe(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	b := mk(t, nil).Broker
	ch1, unsub1 := subscribe(t, b, "s", 16)
	ch2, _ := subscribe(t, b, "s", 16)
	if err := b.Publish(t.Context(), "s", engine.Message{ID: "before"}); err != nil {
		t.Fatal(err)
	}
	recv(t, ch1, "before on 1")
	recv(t, ch2, "before on 2")
	if err := unsub1(); err != nil {
		t.Fatalf("unsubscribe = %v", err)
	}
	if err := unsub1(); err != nil {
		t.Fatalf("second unsubscribe = %v", err)
	}
	for i := range 5 {
		if err := b.Publish(t.Context(), "s", engine.Message{ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 5 {
		recv(t, ch2, fmt.Sprintf("after %d on 2", i))
	}
	if len(ch1) != 0 {
		t.Fatalf("unsubscribed handler called: %+v", <-ch1)
	}
	// Unsubscribing from inside the handler must not deadlock.
	var unsub3 func() error
	got3 := make(chan string, 4)
	unsub3, err := b.Subscribe(t.Context(), "self", func(m engine.Message) {
		got3 <- m.ID
		_ = unsub3()
	})
	if err != nil {
		t.Fatal(err)
	}
	witness, _ := subscribe(t, b, "self", 4)
	for _, id := range []string{"x", "y"} {
		if err := b.Publish(t.Context(), "self", engine.Message{ID: id}); err != nil {
			t.Fatal(err)
		}
	}
	recv(t, witness, "x on witness")
	recv(t, witness, "y on witness")
	if id := recv(t, got3, "x on self-unsubscriber"); id != "x" {
		t.Fatalf("self-unsubscriber got %q first", id)
	}
	if len(got3) != 0 {
		t.Fatalf("self-unsubscriber called again: %q", <-got3)
	}
}

func testBrokerClose(t *testing.T, mk func(*testing.T, engine.ExpireFunc) Engine) {
	b := mk(t, nil).Broker
	ctx := t.Context()
	subscribe(t, b, "s", 1)
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, "s", engine.Message{}); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Publish after Close = %v, want ErrClosed", err)
	}
	if _, err := b.Subscribe(ctx, "s", func(engine.Message) {}); !errors.Is(err, engine.ErrClosed) {
		t.Fatalf("Subscribe after Close = %v, want ErrClosed", err)
	}
}
