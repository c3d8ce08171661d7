package client

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// TestSendMessageAsync: many asynchronous messages from one goroutine
// through a small in-flight window arrive in order, each answer reaches
// its callback exactly once, and failures are reported, not dropped.
func TestSendMessageAsync(t *testing.T) {
	h := startHub(t, 0)
	rb := newRecorder()
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithMaxInFlight(4))
	b := dial(t, []string{h.URL}, append(rb.opts(), WithAddress(backendURL(t)))...)
	ctx := tctx(t)
	if err := b.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}

	const n = 300
	type answer struct {
		i   int
		res SendResult
		err error
	}
	answers := make(chan answer, 2*n)
	var calls atomic.Int64
	for i := range n {
		err := a.SendMessageAsync(ctx, Outgoing{To: []string{"bob"}, From: "alice", Data: raw(strconv.Itoa(i))},
			func(res SendResult, err error) {
				calls.Add(1)
				answers <- answer{i, res, err}
			})
		if err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	seen := make([]bool, n)
	for range n {
		a := waitChan(t, answers, "an answer")
		if a.err != nil || a.res.ID == "" || !slices.Equal(a.res.Delivered, []string{"bob"}) {
			t.Fatalf("answer %d: %+v %v", a.i, a.res, a.err)
		}
		if seen[a.i] {
			t.Fatalf("answer %d twice", a.i)
		}
		seen[a.i] = true
	}
	for i := range n {
		m := rb.next(t)
		if string(m.Data) != strconv.Itoa(i) || m.From != "alice" {
			t.Fatalf("message %d: got %s from %q (out of order?)", i, m.Data, m.From)
		}
	}

	// The hub's answer for names nobody holds, and a refused message.
	done := make(chan answer, 2)
	if err := a.SendMessageAsync(ctx, Outgoing{To: []string{"ghost"}, Data: raw("1")}, func(r SendResult, err error) {
		done <- answer{0, r, err}
	}); err != nil {
		t.Fatal(err)
	}
	if r := waitChan(t, done, "ghost answer"); r.err != nil || !slices.Equal(r.res.Unknown, []string{"ghost"}) {
		t.Fatalf("ghost: %+v %v", r.res, r.err)
	}
	if err := a.SendMessageAsync(ctx, Outgoing{To: []string{"x"}, Room: "y"}, func(SendResult, error) {
		t.Error("callback of a message never sent")
	}); err == nil {
		t.Fatal("to and room accepted")
	}
	if err := a.SendMessageAsync(ctx, Outgoing{Data: raw("1")}, nil); err == nil {
		t.Fatal("nil callback accepted")
	}
	if got := calls.Load(); got != n {
		t.Fatalf("%d callbacks for %d messages", got, n)
	}

	// A full window waits for ctx; a closed client fails at once.
	full := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithMaxInFlight(1))
	full.window <- struct{}{} // occupy the only slot
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := full.SendMessageAsync(cctx, Outgoing{Data: raw("1")}, func(SendResult, error) {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("full window: %v", err)
	}
	<-full.window
	_ = full.Close()
	if err := full.SendMessageAsync(ctx, Outgoing{Data: raw("1")}, func(SendResult, error) {}); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed client: %v", err)
	}
}

// TestSendMessageAsyncReconnecting: between connections the call fails
// at once with ErrNotConnected; after the reconnect messages flow again.
func TestSendMessageAsyncReconnecting(t *testing.T) {
	h := startHub(t, 0)
	down := make(chan struct{}, 4)
	o, ready := readyCh()
	a := dial(t, []string{h.URL}, o, withOnDown(func() { down <- struct{}{} }), WithAddress(backendURL(t)))
	waitChan(t, ready, "registered")
	ctx := tctx(t)
	h.Kill()
	waitChan(t, down, "connection lost")
	err := a.SendMessageAsync(ctx, Outgoing{Data: raw("1")}, func(SendResult, error) {
		t.Error("callback of a message never sent")
	})
	if !errors.Is(err, ErrNotConnected) {
		t.Fatalf("while reconnecting: %v", err)
	}
	h.Start()
	waitChan(t, ready, "re-registered")
	answered := make(chan error, 1)
	if err := a.SendMessageAsync(ctx, Outgoing{Data: raw("1")}, func(_ SendResult, err error) { answered <- err }); err != nil {
		t.Fatal(err)
	}
	if err := waitChan(t, answered, "answer after reconnect"); err != nil {
		t.Fatal(err)
	}
}

// TestWriteLinger: with a write linger on both backends' connections,
// messages and their delivery acknowledgements still flow, in order.
func TestWriteLinger(t *testing.T) {
	if _, err := Dial(tctx(t), []string{"http://127.0.0.1:1"}, WithAddress("http://127.0.0.1:2"), WithWriteLinger(-time.Millisecond)); err == nil {
		t.Fatal("negative linger accepted")
	}
	h := startHub(t, 0)
	rb := newRecorder()
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithWriteLinger(2*time.Millisecond))
	b := dial(t, []string{h.URL}, append(rb.opts(), WithAddress(backendURL(t)), WithWriteLinger(2*time.Millisecond))...)
	ctx := tctx(t)
	if err := b.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	const n = 200
	answers := make(chan error, n)
	for i := range n {
		if err := a.SendMessageAsync(ctx, Outgoing{To: []string{"bob"}, Data: raw(strconv.Itoa(i))},
			func(_ SendResult, err error) { answers <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		if err := waitChan(t, answers, "an answer"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if m := rb.next(t); string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("message %d: got %s", i, m.Data)
		}
	}
}
