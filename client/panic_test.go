package client

import (
	"encoding/json"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// TestHandlerPanicRedelivered: the OnMessage handler panics on a direct
// message. Regression: the confirmation was sent from a defer, so the hub
// dropped a message the handler never took (and the reader's recover then
// closed the connection anyway). Now the panic is logged, the message is
// not confirmed, the client reconnects and the hub delivers it again, with
// its ID.
func TestHandlerPanicRedelivered(t *testing.T) {
	h := startHub(t, 0)
	logs := newLineLog()
	o, ready := readyCh()
	got := make(chan Message, 16)
	var panicked atomic.Bool
	b := dial(t, []string{h.URL}, o, WithAddress(backendURL(t)), WithLogger(logLines(logs)),
		WithOnMessage(func(m Message) {
			if panicked.CompareAndSwap(false, true) {
				panic("handler bug")
			}
			got <- m
		}))
	waitChan(t, ready, "b registered")
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	ctx := tctx(t)
	if err := b.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	res, err := a.Send(ctx, []string{"bob"}, "once")
	if err != nil || !slices.Equal(res.Delivered, []string{"bob"}) {
		t.Fatalf("send: %+v %v", res, err)
	}
	waitLog(t, logs, "ERROR message handler panicked", "id="+res.ID, "panic=handler bug")
	waitChan(t, ready, "b re-registered after the panic")
	if m := waitChan(t, got, "the message, delivered again"); m.ID != res.ID || string(m.Data) != `"once"` {
		t.Fatalf("got %+v, want message %s again", m, res.ID)
	}
	if got := b.Names(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("names after the reconnect %v", got)
	}
}

// TestHandlerPanicInBatch: the handler panics on item k of a delivery
// batch. Regression: the batch's one ack was sent from a defer, confirming
// item k and every later item although the handler never saw them (the
// audit lost 299 of 400). Now the items before k are confirmed, k and the
// later ones are given back to the hub, and after the reconnect the hub
// delivers them, in order.
func TestHandlerPanicInBatch(t *testing.T) {
	h := startHub(t, 0)
	const n, k = 10, 4
	got := make(chan int, 4*n)
	var panicked atomic.Bool
	o, ready := readyCh()
	b := dial(t, []string{h.URL}, o, WithAddress(backendURL(t)), WithOnMessage(func(m Message) {
		var d struct{ I int }
		if err := m.Decode(&d); err != nil {
			t.Errorf("decode %s: %v", m.Data, err)
		}
		if d.I == k && panicked.CompareAndSwap(false, true) {
			panic("handler bug")
		}
		got <- d.I
	}))
	waitChan(t, ready, "b registered")
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	if err := b.Join(tctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	// One array from a, routed to b as one array.
	answers := make(chan asyncAnswer, n)
	release := holdWindow(t, a)
	sendFrom(t, a, []int{n}, func(int, int) string { return "bob" }, answers)
	release()
	for key, ans := range collect(t, answers, n) {
		if ans.err != nil || !slices.Equal(ans.res.Delivered, []string{"bob"}) {
			t.Fatalf("answer %v: %+v %v", key, ans.res, ans.err)
		}
	}
	waitChan(t, ready, "b re-registered after the panic")
	// Every item reaches the handler; those from k on exactly once and in
	// order (an item before k may come twice: at least once delivery).
	seen := map[int]int{}
	var late []int
	for len(seen) < n {
		i := waitChan(t, got, "an item")
		seen[i]++
		if i >= k {
			late = append(late, i)
		}
	}
	want := []int{}
	for i := k; i < n; i++ {
		want = append(want, i)
	}
	if !slices.Equal(late, want) {
		t.Fatalf("items from %d on arrived as %v, want %v", k, late, want)
	}
	if !panicked.Load() || b.stats.recv.Load() == 0 {
		t.Fatalf("panicked %v, arrays received %d: the batch path was not taken", panicked.Load(), b.stats.recv.Load())
	}
	t.Logf("deliveries per item: %v", seen)
}

// TestCallbackPanics: a panic in the NameLost callback or in a
// SendMessageAsync done callback is recovered and logged, and the client
// goes on. Regression: NameLost (on the supervisor goroutine) and done run
// from a timer or from the connection's teardown had no recover, so the
// panic killed the process; done on the reader closed the connection.
func TestCallbackPanics(t *testing.T) {
	t.Run("NameLost", func(t *testing.T) {
		h1 := startHub(t, 0)
		h2 := startHub(t, 0)
		logs := newLineLog()
		o, ready := readyCh()
		a := dial(t, []string{h1.URL, h2.URL}, o, WithAddress(backendURL(t)), WithLogger(logLines(logs)),
			WithNameLost(func(name, holder string) { panic("NameLost bug: " + name) }))
		waitChan(t, ready, "registered")
		b := dial(t, []string{h2.URL}, WithAddress(backendURL(t)))
		ctx := tctx(t)
		if err := a.Join(ctx, "alice", "bob"); err != nil {
			t.Fatal(err)
		}
		if err := b.Join(ctx, "alice"); err != nil { // h2 does not know a yet
			t.Fatal(err)
		}
		h1.Kill()
		waitLog(t, logs, "ERROR callback panicked", "callback=NameLost", "panic=NameLost bug: alice")
		waitChan(t, ready, "re-registered on h2")
		if got := a.Names(); !slices.Equal(got, []string{"bob"}) {
			t.Fatalf("names %v", got)
		}
		if _, err := b.Send(ctx, []string{"bob"}, 1); err != nil {
			t.Fatalf("a still serving: %v", err)
		}
	})

	// A fake hub answers "ok" messages and never answers "hold" ones.
	lose := func(t *testing.T, h *fakeHub) { h.sock.Load().CloseTransport("test") }
	tests := []struct {
		name  string
		data  string
		timer bool                           // written a millisecond before its ack deadline
		cause func(t *testing.T, h *fakeHub) // once the hub holds the message
		err   error                          // what done gets
	}{
		{name: "answer on the reader", data: "ok"},
		{name: "ack timeout on a timer", data: "hold", timer: true, err: ErrAckTimeout},
		{name: "connection lost", data: "hold", cause: lose, err: sio.ErrClosed},
	}
	for _, tt := range tests {
		t.Run("done/"+tt.name, func(t *testing.T) {
			held := make(chan struct{}, 1)
			h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
				var o struct{ Data string }
				_ = json.Unmarshal(m.Args[0], &o)
				if o.Data == "hold" {
					held <- struct{}{}
					return
				}
				_ = ack(sio.Args(raw(`{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`)))
			})
			logs := newLineLog()
			down := make(chan struct{}, 4)
			o, ready := readyCh()
			// Only the fake clock makes an ack deadline pass.
			clock := &fakeClock{}
			clock.set(time.Unix(1_000_000, 0))
			a := dial(t, []string{h.URL}, o, WithAddress(backendURL(t)), WithLogger(logLines(logs)),
				WithAckTimeout(time.Hour), withClock(clock.now), withOnDown(func() { down <- struct{}{} }))
			waitChan(t, ready, "registered")
			release := func() {}
			if tt.timer {
				release = holdWindow(t, a)
			}
			called := make(chan error, 1)
			err := a.SendMessageAsync(tctx(t), Outgoing{To: []string{"bob"}, Data: tt.data}, func(_ SendResult, err error) {
				called <- err
				panic("done bug")
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.timer {
				// Queued behind the held window, written a millisecond
				// before its deadline: its ack times out on a timer.
				clock.set(clock.now().Add(time.Hour - time.Millisecond))
			}
			release()
			if tt.cause != nil {
				waitChan(t, held, "the message at the hub")
				tt.cause(t, h)
			}
			if err := waitChan(t, called, "done"); tt.err == nil && err != nil || !errors.Is(err, tt.err) {
				t.Fatalf("done got %v, want %v", err, tt.err)
			}
			waitLog(t, logs, "ERROR callback panicked", "callback=done", "panic=done bug")
			if tt.cause != nil {
				waitChan(t, ready, "re-registered")
			}
			if _, err := a.Send(tctx(t), []string{"bob"}, "ok"); err != nil {
				t.Fatalf("send after the panic: %v", err)
			}
			if tt.cause == nil {
				select {
				case <-down:
					t.Fatal("the panic closed the connection")
				default:
				}
			}
		})
	}
}
