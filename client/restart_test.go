package client

import (
	"slices"
	"testing"
)

// readyCh returns an option signalling each (re)registration.
func readyCh() (Option, chan struct{}) {
	ch := make(chan struct{}, 16)
	return withOnReady(func() { ch <- struct{}{} }), ch
}

// TestHubRestart: Switchboard is SIGKILLed and restarted on the same port;
// both backends re-register, names and rooms are restored, messages flow,
// with no application code.
func TestHubRestart(t *testing.T) {
	h := startHub(t, 0)
	ra, rb := newRecorder(), newRecorder()
	oa, readyA := readyCh()
	ob, readyB := readyCh()
	a := dial(t, []string{h.URL}, append(ra.opts(), oa, WithAddress(backendURL(t)))...)
	b := dial(t, []string{h.URL}, append(rb.opts(), ob, WithAddress(backendURL(t)))...)
	waitChan(t, readyA, "a registered")
	waitChan(t, readyB, "b registered")
	ctx := tctx(t)
	for _, step := range []error{
		a.Join(ctx, "alice", "amy"), a.JoinRoom(ctx, "lobby"),
		b.Join(ctx, "bob"), b.JoinRoom(ctx, "lobby"), b.JoinRoom(ctx, "dev"),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	idA := a.ID()

	for round := range 2 {
		h.Kill()
		h.Start()
		waitChan(t, readyA, "a re-registered")
		waitChan(t, readyB, "b re-registered")
		if a.ID() == idA {
			t.Fatalf("round %d: a kept its backend id %s across a hub restart", round, idA)
		}
		idA = a.ID()
		for _, n := range []string{"alice", "amy", "bob"} {
			want := a.Address()
			if n == "bob" {
				want = b.Address()
			}
			ok, holder, err := b.Exists(ctx, n)
			if err != nil || !ok || holder != want {
				t.Fatalf("round %d: %s after restart: %v %q %v (want %s)", round, n, ok, holder, err, want)
			}
		}
		if got := b.Rooms(); !slices.Equal(got, []string{"dev", "lobby"}) {
			t.Fatalf("rooms %v", got)
		}
		res, err := a.Send(ctx, []string{"bob"}, round)
		if err != nil || !slices.Equal(res.Delivered, []string{"bob"}) {
			t.Fatalf("round %d: send: %+v %v", round, res, err)
		}
		if m := rb.next(t); m.Kind() != KindDirect || m.Backend != a.Address() {
			t.Fatalf("round %d: %+v", round, m)
		}
		if _, err := a.Publish(ctx, "lobby", "room"); err != nil {
			t.Fatal(err)
		}
		if m := rb.next(t); m.Room != "lobby" {
			t.Fatalf("round %d: room message %+v", round, m)
		}
		if _, err := b.Send(ctx, []string{"amy"}, "back"); err != nil {
			t.Fatal(err)
		}
		if m := ra.next(t); !slices.Equal(m.To, []string{"amy"}) {
			t.Fatalf("round %d: %+v", round, m)
		}
	}
}

// TestFailover: the first hub down at Dial → the second is used; the hub
// in use killed while connected → the client moves to the other one with
// its names.
func TestFailover(t *testing.T) {
	down := "http://127.0.0.1:" + itoa(freePort(t))
	h2 := startHub(t, 0)
	c := dial(t, []string{down, h2.URL}, WithAddress(backendURL(t)))
	if c.Hub() != h2.URL {
		t.Fatalf("hub %s, want %s", c.Hub(), h2.URL)
	}

	h1 := startHub(t, 0)
	o, ready := readyCh()
	a := dial(t, []string{h1.URL, h2.URL}, o, WithAddress(backendURL(t)))
	waitChan(t, ready, "registered")
	if a.Hub() != h1.URL {
		t.Fatalf("hub %s, want %s", a.Hub(), h1.URL)
	}
	ctx := tctx(t)
	if err := a.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := a.JoinRoom(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	h1.Kill()
	waitChan(t, ready, "re-registered")
	if a.Hub() != h2.URL {
		t.Fatalf("after failover: hub %s, want %s", a.Hub(), h2.URL)
	}
	ok, holder, err := c.Exists(ctx, "alice")
	if err != nil || !ok || holder != a.Address() {
		t.Fatalf("alice on the second hub: %v %q %v", ok, holder, err)
	}
	if _, err := c.Publish(ctx, "lobby", 1); err != nil {
		t.Fatal(err)
	}
}

// TestNameLost: while a backend was away, another claimed one of its names
// on the hub it fails over to; the re-claim reports it through the
// NameLost callback and the name is no longer held. The others are
// re-claimed.
func TestNameLost(t *testing.T) {
	h1 := startHub(t, 0)
	h2 := startHub(t, 0)
	ra := newRecorder()
	o, ready := readyCh()
	a := dial(t, []string{h1.URL, h2.URL}, append(ra.opts(), o, WithAddress(backendURL(t)))...)
	waitChan(t, ready, "registered")
	b := dial(t, []string{h2.URL}, WithAddress(backendURL(t)))
	ctx := tctx(t)
	if err := a.Join(ctx, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	// h2 does not know a yet: b's claim succeeds there.
	if err := b.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	h1.Kill()
	lost := waitChan(t, ra.lost, "name lost")
	if lost[0] != "alice" || lost[1] != b.Address() {
		t.Fatalf("lost %v, want alice held by %s", lost, b.Address())
	}
	waitChan(t, ready, "re-registered")
	if got := a.Names(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("names %v", got)
	}
	ok, holder, err := b.Exists(ctx, "bob")
	if err != nil || !ok || holder != a.Address() {
		t.Fatalf("bob: %v %q %v", ok, holder, err)
	}
}

// TestLeaveWhileDisconnected: names and rooms left while the hub is away
// are not restored on the next connection.
func TestLeaveWhileDisconnected(t *testing.T) {
	h := startHub(t, 0)
	o, ready := readyCh()
	downCh := make(chan struct{}, 4)
	a := dial(t, []string{h.URL}, o, withOnDown(func() { downCh <- struct{}{} }), WithAddress(backendURL(t)))
	b := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	waitChan(t, ready, "registered")
	ctx := tctx(t)
	if err := a.Join(ctx, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	if err := a.JoinRoom(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if err := a.JoinRoom(ctx, "r2"); err != nil {
		t.Fatal(err)
	}
	h.Kill()
	waitChan(t, downCh, "a disconnected")
	if err := a.Leave(ctx, "alice"); err != nil {
		t.Fatalf("leave while disconnected: %v", err)
	}
	if err := a.LeaveRoom(ctx, "r1"); err != nil {
		t.Fatalf("leave room while disconnected: %v", err)
	}
	h.Start()
	waitChan(t, ready, "a re-registered")
	if got := a.Names(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("names %v", got)
	}
	if got := a.Rooms(); !slices.Equal(got, []string{"r2"}) {
		t.Fatalf("rooms %v", got)
	}
	if ok, _, err := b.Exists(ctx, "alice"); err != nil || ok {
		t.Fatalf("alice restored: %v %v", ok, err)
	}
	if ok, holder, err := b.Exists(ctx, "bob"); err != nil || !ok || holder != a.Address() {
		t.Fatalf("bob: %v %q %v", ok, holder, err)
	}
}
