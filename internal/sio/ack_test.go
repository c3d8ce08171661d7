package sio

import (
	"context"
	"errors"
	"testing"
	"time"
)

func noSend(int64) error { return nil }

// TestCallbackAckSweep: one timer per table fails expired acks in deadline
// order (also when a shorter timeout follows a longer one), acks that came
// are never failed, every func runs once, and close fails the rest.
func TestCallbackAckSweep(t *testing.T) {
	var tab ackTable
	type res struct {
		name string
		err  error
	}
	got := make(chan res, 16)
	add := func(name string, d time.Duration) int64 {
		t.Helper()
		var id int64 = -1
		err := callbackAck(&tab, nil, 100, d, func(_ Message, err error) { got <- res{name, err} }, func(i int64) error { id = i; return nil })
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	long := add("long", time.Hour)
	acked := add("acked", time.Hour)
	short := add("short", time.Millisecond)
	_ = short
	tab.resolve(acked, Message{})
	if r := <-got; r.name != "acked" || r.err != nil {
		t.Fatalf("first result %+v, want acked <nil>", r)
	}
	select {
	case r := <-got:
		if r.name != "short" || !errors.Is(r.err, ErrAckTimeout) {
			t.Fatalf("got %+v, want short ErrAckTimeout", r)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the short ack never timed out")
	}
	tab.resolve(short, Message{}) // late: dropped
	tab.close(ErrClosed)
	if r := <-got; r.name != "long" || !errors.Is(r.err, ErrClosed) {
		t.Fatalf("after close %+v, want long ErrClosed", r)
	}
	tab.resolve(long, Message{})
	select {
	case r := <-got:
		t.Fatalf("a func ran twice: %+v", r)
	default:
	}
	if err := callbackAck(&tab, nil, 100, time.Hour, func(Message, error) {}, noSend); !errors.Is(err, ErrClosed) {
		t.Fatalf("add after close: %v", err)
	}
}

// TestCallbackAckSendError: a failed send returns the error and the func
// never runs.
func TestCallbackAckSendError(t *testing.T) {
	var tab ackTable
	boom := errors.New("boom")
	ran := false
	if err := callbackAck(&tab, nil, 10, time.Hour, func(Message, error) { ran = true }, func(int64) error { return boom }); err != boom {
		t.Fatalf("err = %v", err)
	}
	if ran || tab.len() != 0 {
		t.Fatalf("ran %v, pending %d", ran, tab.len())
	}
}

// TestCallbackAckDeadlinesBounded: the deadline queue stays proportional to
// the pending acks under a stream of acks that come back.
func TestCallbackAckDeadlinesBounded(t *testing.T) {
	var tab ackTable
	keep := int64(-1)
	_ = callbackAck(&tab, nil, 10, time.Hour, func(Message, error) {}, func(i int64) error { keep = i; return nil })
	for range 10000 {
		var id int64
		if err := callbackAck(&tab, nil, 10, time.Hour, func(Message, error) {}, func(i int64) error { id = i; return nil }); err != nil {
			t.Fatal(err)
		}
		tab.resolve(id, Message{})
	}
	tab.mu.Lock()
	n := len(tab.dl.q) - tab.dl.head
	tab.mu.Unlock()
	if n > 200 {
		t.Fatalf("%d deadlines kept for 1 pending ack", n)
	}
	tab.resolve(keep, Message{})
	tab.close(ErrClosed)
}

func BenchmarkCallbackAck(b *testing.B) {
	var tab ackTable
	fn := func(Message, error) {}
	var id int64
	send := func(i int64) error { id = i; return nil }
	b.ReportAllocs()
	for b.Loop() {
		_ = callbackAck(&tab, nil, 1024, 30*time.Second, fn, send)
		tab.resolve(id, Message{})
	}
	tab.close(ErrClosed)
}

// TestWaitAckDoneContext: a context already done sends nothing and
// returns its error (a deadline as ErrAckTimeout), even when the answer
// would come at once.
func TestWaitAckDoneContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Unix(1, 0))
	defer cancel2()
	for _, tt := range []struct {
		ctx  context.Context
		want error
	}{{cancelled, context.Canceled}, {expired, ErrAckTimeout}} {
		var tab ackTable
		sent := false
		_, err := waitAck(tt.ctx, &tab, 10, time.Hour, nil, func(id int64) error {
			sent = true
			if fn := tab.take(id); fn != nil {
				fn(Message{}, nil) // an answer at once
			}
			return nil
		})
		if err != tt.want || sent || tab.len() != 0 {
			t.Fatalf("err %v (want %v), sent %v, pending %d", err, tt.want, sent, tab.len())
		}
	}
}
