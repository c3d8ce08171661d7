package sio

import (
	"errors"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// closeRecorder is a nopEngine that records Close.
type closeRecorder struct {
	nopEngine
	reasons []string
}

func (e *closeRecorder) Close(reason string) { e.reasons = append(e.reasons, reason) }

func TestPendingAcksBounded(t *testing.T) {
	t.Parallel()
	srv := NewServer(Config{MaxPendingAcks: 2}, nil)
	srv.Of("/")
	c, _ := benchConn(t, srv)
	s := c.root
	res := make(chan error, 3)
	fn := func(_ Message, err error) { res <- err }
	check(t, s.EmitWithAckFunc("a", Message{}, time.Hour, fn))
	check(t, s.EmitWithAckFunc("a", Message{}, time.Hour, fn))
	if err := s.EmitWithAckFunc("a", Message{}, time.Hour, fn); !errors.Is(err, ErrTooManyAcks) {
		t.Fatalf("third ack: %v", err)
	}
	// An ACK for an unknown id is dropped; a known one resolves once.
	c.onMessage(eio.Message{Data: []byte(`399[]`)})
	c.onMessage(eio.Message{Data: []byte(`30[1]`)})
	c.onMessage(eio.Message{Data: []byte(`30[2]`)})
	if err := recv(t, res, "ack 0"); err != nil {
		t.Fatal(err)
	}
	if s.PendingAcks() != 1 {
		t.Fatalf("pending %d", s.PendingAcks())
	}
	c.onClose(ReasonTransportClose)
	if err := recv(t, res, "ack 1 on close"); !errors.Is(err, ErrClosed) {
		t.Fatalf("on close: %v", err)
	}
}

func TestAckOnlyOnceAndHandlerPanic(t *testing.T) {
	t.Parallel()
	srv := NewServer(Config{}, nil)
	ns := srv.Of("/")
	ns.On("twice", func(s *Socket, m Message, ack Ack) {
		check(t, ack(Message{}))
		check(t, ack(Message{}))
	})
	ns.On("boom", func(s *Socket, m Message, ack Ack) { panic("boom") })
	var anyEvents []string
	ns.OnAny(func(s *Socket, event string, m Message, ack Ack) { anyEvents = append(anyEvents, event) })
	e := &closeRecorder{nopEngine: nopEngine{id: "u", done: make(chan struct{})}}
	c := srv.accept(e)
	defer c.onClose("end")
	c.onMessage(eio.Message{Data: []byte(`0`)})
	sent := e.sent
	c.onMessage(eio.Message{Data: []byte(`27["twice"]`)})
	if e.sent != sent+1 {
		t.Fatalf("ack sent %d times", e.sent-sent)
	}
	c.onMessage(eio.Message{Data: []byte(`2["other",1]`)})
	if len(anyEvents) != 1 || anyEvents[0] != "other" {
		t.Fatalf("OnAny got %q", anyEvents)
	}
	c.onMessage(eio.Message{Data: []byte(`2["boom"]`)})
	if len(e.reasons) != 1 || e.reasons[0] != ReasonTransportError {
		t.Fatalf("panic closed with %q", e.reasons)
	}
}
