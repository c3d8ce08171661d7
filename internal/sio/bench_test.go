package sio

import (
	"context"
	"net/http"
	"net/url"
	"runtime"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// nopEngine is an engineConn that accepts and drops every message: it
// isolates this package's per-event cost from the transports'.
type nopEngine struct {
	id   string
	done chan struct{}
	sent int
}

func (e *nopEngine) ID() string                        { return e.id }
func (e *nopEngine) Transport() string                 { return eio.TransportWebSocket }
func (e *nopEngine) RemoteAddr() string                { return "127.0.0.1:1" }
func (e *nopEngine) Header() http.Header               { return nil }
func (e *nopEngine) Query() url.Values                 { return nil }
func (e *nopEngine) Send(msgs ...eio.Message) error    { e.sent += len(msgs); return nil }
func (e *nopEngine) TrySend(msgs ...eio.Message) error { return e.Send(msgs...) }
func (e *nopEngine) Close(string)                      {}
func (e *nopEngine) Done() <-chan struct{}             { return e.done }

// benchConn returns a server session on a nopEngine with "/" connected.
func benchConn(tb testing.TB, srv *Server) (*conn, *nopEngine) {
	e := &nopEngine{id: "bench", done: make(chan struct{})}
	c := srv.accept(e)
	c.onMessage(eio.Message{Data: []byte(`0`)})
	if c.root == nil {
		tb.Fatal("not connected")
	}
	tb.Cleanup(func() { c.onClose("bench end") })
	return c, e
}

func benchServer() *Server {
	srv := NewServer(Config{}, nil)
	ns := srv.Of("/")
	ns.On("message", func(s *Socket, m Message, ack Ack) {
		if ack != nil {
			_ = ack(Args(m.Args[1]))
		}
	})
	return srv
}

// BenchmarkServerEvent: one inbound event through decode and dispatch.
func BenchmarkServerEvent(b *testing.B) {
	c, _ := benchConn(b, benchServer())
	msg := eio.Message{Data: []byte(`2["message",{"to":"user-42","from":"user-7","body":"hello there, how are you?"},17]`)}
	b.ReportAllocs()
	for b.Loop() {
		c.onMessage(msg)
	}
}

// BenchmarkServerAckedEvent: an inbound event whose handler acks (decode,
// dispatch, encode and queue the ack).
func BenchmarkServerAckedEvent(b *testing.B) {
	c, _ := benchConn(b, benchServer())
	msg := eio.Message{Data: []byte(`2123["message",{"to":"user-42","from":"user-7","body":"hello there, how are you?"},17]`)}
	b.ReportAllocs()
	for b.Loop() {
		c.onMessage(msg)
	}
}

// BenchmarkSocketEmit: encode and queue one outbound event.
func BenchmarkSocketEmit(b *testing.B) {
	c, _ := benchConn(b, benchServer())
	m := Args(raw(`{"to":"user-42","from":"user-7","body":"hello there, how are you?"}`), raw(`17`))
	b.ReportAllocs()
	for b.Loop() {
		if err := c.root.Emit("message", m); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSocketEmitWithAckRoundTrip: server → client ack bookkeeping
// (register, encode, resolve by an inbound ACK) without the network.
func BenchmarkSocketEmitWithAckRoundTrip(b *testing.B) {
	c, _ := benchConn(b, benchServer())
	s := c.root
	m := Args(raw(`17`))
	ack := []byte(`30[true]`)
	b.ReportAllocs()
	for b.Loop() {
		done := make(chan struct{})
		err := s.EmitWithAckFunc("message", m, 0, func(Message, error) { close(done) })
		if err != nil {
			b.Fatal(err)
		}
		id := s.acks.next - 1
		ack = append(ack[:1], []byte(itoa(id)+"[true]")...)
		c.onMessage(eio.Message{Data: ack})
		<-done
	}
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// TestIdleConnectionFootprint measures this package's heap per idle
// session with one connected namespace (the engine and the WebSocket are
// not included: the nopEngine stands in for them).
func TestIdleConnectionFootprint(t *testing.T) {
	srv := benchServer()
	const n = 2000
	conns := make([]*conn, 0, n)
	engines := make([]*nopEngine, n)
	for i := range engines {
		engines[i] = &nopEngine{id: "x", done: make(chan struct{})}
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for _, e := range engines {
		c := srv.accept(e)
		c.onMessage(eio.Message{Data: []byte(`0`)})
		conns = append(conns, c)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	per := float64(after.HeapAlloc-before.HeapAlloc) / n
	t.Logf("sio layer: %.0f bytes per idle session with one namespace", per)
	if per > 2048 {
		t.Errorf("%.0f bytes per idle session, want ≤ 2 KiB for this layer", per)
	}
	for _, c := range conns {
		c.onClose("test end")
	}
	_ = context.Background
}

// BenchmarkWebSocketAckRoundTrip: our client and server in one process over
// loopback WebSocket, 64 acks in flight (client CPU included).
func BenchmarkWebSocketAckRoundTrip(b *testing.B) {
	ts := startServer(b, benchServer(), "127.0.0.1:0")
	c := NewClient(ts.URL, ClientConfig{})
	defer c.Close()
	s := c.Socket("/", nil)
	if err := c.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	m := Args(raw(`{"to":"user-42","body":"hello there"}`), raw(`17`))
	sem := make(chan struct{}, 64)
	errs := make(chan error, 1)
	b.ReportAllocs()
	for b.Loop() {
		sem <- struct{}{}
		err := s.EmitWithAckFunc("message", m, 0, func(_ Message, err error) {
			if err != nil {
				select {
				case errs <- err:
				default:
				}
			}
			<-sem
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	for range cap(sem) {
		sem <- struct{}{}
	}
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
}
