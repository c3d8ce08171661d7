package eio

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// relay is a server Handler: every message from a session other than the
// sink's goes to the sinks with SendVia (the reader's batch) and is echoed
// back to its sender as a reply.
type relay struct {
	mu    sync.Mutex
	sinks []*Conn
	conns chan *Conn
}

func (r *relay) OnMessage(c *Conn, m Message) {
	r.mu.Lock()
	sinks := r.sinks
	r.mu.Unlock()
	for _, s := range sinks {
		if s != c {
			_ = s.SendVia(c, Message{Data: append([]byte("to-sink:"), m.Data...)})
		}
	}
	_ = c.Send(Message{Data: append([]byte("reply:"), m.Data...)})
}

func (r *relay) OnClose(*Conn, string) {}

func newRelayFixture(t *testing.T, cfg Config) (*fixture, *relay) {
	t.Helper()
	f := newFixture(t, cfg)
	r := &relay{conns: make(chan *Conn, 8)}
	f.srv.accept = func(c *Conn) Handler { r.conns <- c; return r }
	return f, r
}

// TestSendViaKeepsOrder: messages relayed from a reader's bursts (SendVia)
// and the replies to them arrive complete and in order.
func TestSendViaKeepsOrder(t *testing.T) {
	t.Parallel()
	f, r := newRelayFixture(t, Config{PingInterval: time.Hour})
	sink, srec := dialClient(t, f, DialConfig{})
	sc := recv(t, r.conns, "sink accept")
	r.mu.Lock()
	r.sinks = []*Conn{sc}
	r.mu.Unlock()
	src, rec := dialClient(t, f, DialConfig{})
	recv(t, r.conns, "source accept")
	_ = sink
	const n = 600
	for i := 0; i < n; i += 20 {
		burst := make([]Message, 20) // one Send: one write, read as a burst
		for j := range burst {
			burst[j] = Message{Data: fmt.Appendf(nil, "%d", i+j)}
		}
		if err := src.Send(burst...); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		srec.wantMsg(t, fmt.Sprintf("to-sink:%d", i), false)
		rec.wantMsg(t, fmt.Sprintf("reply:%d", i), false)
	}
}

// TestSendViaBlockedSink: while a reader blocks on a full sink (its peer
// does not read), what it already relayed to other sessions is written.
func TestSendViaBlockedSink(t *testing.T) {
	t.Parallel()
	f, r := newRelayFixture(t, Config{PingInterval: time.Hour, SendQueue: 2, StallTimeout: 3 * waitFor}) // no cut-off within the test
	// The stuck sink: its client handler blocks, so it stops reading.
	stuck, stuckRec := dialClient(t, f, DialConfig{})
	stuckRec.block = make(chan struct{})
	_ = stuck
	stuckSrv := recv(t, r.conns, "stuck accept")
	_, okRec := dialClient(t, f, DialConfig{})
	okSrv := recv(t, r.conns, "ok accept")
	r.mu.Lock()
	r.sinks = []*Conn{okSrv, stuckSrv}
	r.mu.Unlock()
	src, _ := dialClient(t, f, DialConfig{})
	recv(t, r.conns, "source accept")
	// Fill the stuck sink (socket buffers, then queue) until a Send waits.
	big := Message{Data: make([]byte, 256<<10)}
	filled := make(chan struct{})
	go func() {
		defer close(filled)
		for range 128 {
			if stuckSrv.Send(big) != nil {
				return
			}
		}
	}()
	// Waiting for 100 checks in a row: the writer is blocked for good,
	// not between two writes.
	deadline := time.Now().Add(waitFor)
	for streak := 0; streak < 100; {
		stuckSrv.mu.Lock()
		waiting := stuckSrv.spaceWake != nil
		stuckSrv.mu.Unlock()
		if waiting {
			streak++
		} else {
			streak = 0
		}
		select {
		case <-filled:
			t.Skip("the socket buffers took 32 MiB without blocking")
		case <-time.After(time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("the stuck sink's queue never filled")
		}
	}
	// A burst from the source: the relay defers the working sink's write,
	// then blocks on the stuck sink's full queue. The deferred write must
	// not wait for the stuck sink (StallTimeout is longer than the test).
	burst := make([]Message, 5)
	for i := range burst {
		burst[i] = Message{Data: fmt.Appendf(nil, "%d", i)}
	}
	if err := src.Send(burst...); err != nil {
		t.Fatal(err)
	}
	okRec.wantMsg(t, "to-sink:0", false)
	close(stuckRec.block)
	<-filled
}

// TestWriteLinger: with WriteLinger set, messages sent one by one arrive
// complete and in order, and a close during the wait still flushes.
func TestWriteLinger(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: time.Hour, WriteLinger: 2 * time.Millisecond})
	c, crec := dialClient(t, f, DialConfig{Config: Config{WriteLinger: 2 * time.Millisecond}})
	sc := recv(t, f.rec.conns, "accept")
	const n = 300 // more than LingerFlushPackets: the queue ends waits too
	for i := range n {
		if err := c.Send(Message{Data: fmt.Appendf(nil, "c%d", i)}); err != nil {
			t.Fatal(err)
		}
		if err := sc.Send(Message{Data: fmt.Appendf(nil, "s%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		f.rec.wantMsg(t, fmt.Sprintf("c%d", i), false)
		crec.wantMsg(t, fmt.Sprintf("s%d", i), false)
	}
	if err := sc.Send(Message{Data: []byte("last")}); err != nil {
		t.Fatal(err)
	}
	sc.Close(ReasonForcedClose)
	crec.wantMsg(t, "last", false)
	crec.wantClose(t, ReasonTransportClose)
}

// sendLater answers every message from another goroutine while the
// reader may still be delivering the rest of a burst.
// The race detector cannot see that every Add precedes the test's Wait
// (the replies that prove it come over the network), so Adds happen
// under mu and wait takes mu before it waits.
type sendLater struct {
	mu    sync.Mutex
	wg    sync.WaitGroup
	conns chan *Conn
}

func (h *sendLater) wait() {
	h.mu.Lock()
	//lint:ignore SA2001 the empty critical section is the point: it orders every Add before Wait
	h.mu.Unlock()
	h.wg.Wait()
}

func (h *sendLater) OnMessage(c *Conn, m Message) {
	d := append([]byte("later:"), m.Data...)
	h.mu.Lock()
	h.wg.Add(1)
	h.mu.Unlock()
	go func() {
		defer h.wg.Done()
		_ = c.Send(Message{Data: d})
	}()
}

func (h *sendLater) OnClose(*Conn, string) {}

// TestSendFromOtherGoroutineDuringBurst: a Send from another goroutine
// while the reader delivers a burst (a reply deferred to the burst's end)
// is written even when the reader went idle meanwhile and the peer sends
// nothing more.
func TestSendFromOtherGoroutineDuringBurst(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: time.Hour})
	h := &sendLater{conns: make(chan *Conn, 1)}
	f.srv.accept = func(c *Conn) Handler { h.conns <- c; return h }
	c, rec := dialClient(t, f, DialConfig{})
	recv(t, h.conns, "accept")
	const rounds, n = 20, 30
	for r := range rounds {
		burst := make([]Message, n)
		for i := range burst {
			burst[i] = Message{Data: fmt.Appendf(nil, "%d-%d", r, i)}
		}
		if err := c.Send(burst...); err != nil {
			t.Fatal(err)
		}
		got := map[string]bool{}
		for range n {
			got[string(recv(t, rec.msgs, "a reply sent from another goroutine").Data)] = true
		}
		for i := range n {
			if !got[fmt.Sprintf("later:%d-%d", r, i)] {
				t.Fatalf("round %d: reply %d missing", r, i)
			}
		}
	}
	h.wait()
}
