package sio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// echoServer registers "/" and "/admin" with echo handlers and an auth hook.
func echoServer(t *testing.T, cfg Config) (*testServer, chan *Socket, chan string) {
	srv := NewServer(cfg, nil)
	conns := make(chan *Socket, 16)
	gone := make(chan string, 16)
	for _, name := range []string{"/", "/admin"} {
		ns := srv.Of(name)
		ns.OnConnect(func(s *Socket) error {
			var auth struct{ Token string }
			_ = json.Unmarshal(s.Auth(), &auth)
			if auth.Token == "bad" {
				return &ConnectError{Message: "not authorized", Data: raw(`{"code":4}`)}
			}
			return nil
		})
		// Non-blocking: load tests connect more sockets than anyone reads.
		ns.OnConnection(func(s *Socket) {
			select {
			case conns <- s:
			default:
			}
		})
		ns.OnDisconnect(func(s *Socket, reason string) {
			select {
			case gone <- s.Namespace() + " " + reason:
			default:
			}
		})
		ns.On("echo", func(s *Socket, m Message, ack Ack) {
			if ack != nil {
				check(t, ack(m))
				return
			}
			check(t, s.Emit("echo", m))
		})
		ns.On("whoami", func(s *Socket, m Message, ack Ack) {
			check(t, ack(Args(raw(`"`+s.Namespace()+`"`), raw(`"`+s.Transport()+`"`))))
		})
	}
	return startServer(t, srv, "127.0.0.1:0"), conns, gone
}

func TestEventsAndAcksBothWays(t *testing.T) {
	t.Parallel()
	forTransports(t, func(t *testing.T, transport string) {
		ts, conns, gone := echoServer(t, Config{})
		c := newTestClient(t, ts.URL, transport, ClientConfig{})
		root := c.Socket("/", func() json.RawMessage { return raw(`{"token":"good"}`) })
		admin := c.Socket("/admin", nil)
		echoed := make(chan Message, 4)
		root.On("echo", func(m Message, ack Ack) { echoed <- m })
		root.On("ask", func(m Message, ack Ack) {
			check(t, ack(Args(raw(`"answer"`), m.Args[0])))
		})
		connected := make(chan string, 4)
		root.OnConnect(func() { connected <- "/" })
		admin.OnConnect(func() { connected <- "/admin" })
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		defer cancel()
		check(t, c.Connect(ctx))
		recv(t, connected, "connect")
		recv(t, connected, "connect")
		s1, s2 := recv(t, conns, "server socket"), recv(t, conns, "server socket")
		if s1.SessionID() != s2.SessionID() {
			t.Fatalf("two namespaces on two sessions: %s %s", s1.SessionID(), s2.SessionID())
		}
		if s1.ID() == s2.ID() || root.ID() == "" {
			t.Fatalf("socket ids: %q %q client %q", s1.ID(), s2.ID(), root.ID())
		}

		// client → server, no ack: the server emits back.
		check(t, root.Emit("echo", Args(raw(`{"a":[1,2]}`), raw(`"x"`))))
		if got := argsString(recv(t, echoed, "echo")); got != `[{"a":[1,2]},"x"]` {
			t.Fatalf("echo: %s", got)
		}
		// client → server with ack, on both namespaces.
		for _, s := range []*ClientSocket{root, admin} {
			m, err := s.EmitWithAck(ctx, "whoami", Message{})
			check(t, err)
			if got, want := argsString(m), fmt.Sprintf(`[%q,%q]`, s.Namespace(), transport); got != want {
				t.Fatalf("whoami = %s, want %s", got, want)
			}
		}
		// server → client with ack.
		var srvRoot *Socket
		for _, s := range []*Socket{s1, s2} {
			if s.Namespace() == "/" {
				srvRoot = s
			}
		}
		m, err := srvRoot.EmitWithAck(ctx, "ask", Args(raw(`42`)))
		check(t, err)
		if got := argsString(m); got != `["answer",42]` {
			t.Fatalf("ask: %s", got)
		}
		// callback-style acks, several in flight.
		results := make(chan string, 8)
		for i := range 8 {
			check(t, srvRoot.EmitWithAckFunc("ask", Args(raw(fmt.Sprint(i))), 0, func(m Message, err error) {
				if err != nil {
					results <- err.Error()
					return
				}
				results <- string(m.Args[1])
			}))
		}
		sum := 0
		for range 8 {
			var v int
			if err := json.Unmarshal([]byte(recv(t, results, "ack func")), &v); err != nil {
				t.Fatal(err)
			}
			sum += v
		}
		if sum != 28 || srvRoot.PendingAcks() != 0 {
			t.Fatalf("ack funcs: sum %d pending %d", sum, srvRoot.PendingAcks())
		}
		if srvRoot.Auth() == nil || string(srvRoot.Auth()) != `{"token":"good"}` {
			t.Fatalf("auth %s", srvRoot.Auth())
		}

		// Client Close: the server sees both namespaces leave.
		check(t, c.Close())
		got := []string{recv(t, gone, "disconnect"), recv(t, gone, "disconnect")}
		for _, g := range got {
			if !strings.HasSuffix(g, ReasonClientDisconnect) && !strings.HasSuffix(g, ReasonTransportClose) {
				t.Fatalf("disconnect reasons %q", got)
			}
		}
	})
}

func TestBinaryBothWays(t *testing.T) {
	t.Parallel()
	forTransports(t, func(t *testing.T, transport string) {
		ts, conns, _ := echoServer(t, Config{})
		c := newTestClient(t, ts.URL, transport, ClientConfig{})
		s := c.Socket("/", nil)
		got := make(chan Message, 1)
		s.On("echo", func(m Message, ack Ack) { got <- m })
		s.On("bin", func(m Message, ack Ack) { check(t, ack(m)) })
		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		defer cancel()
		check(t, c.Connect(ctx))
		ss := recv(t, conns, "socket")
		blob := bytes.Repeat([]byte{0, 1, 2, 255}, 1000)
		m := Binary([]byte{1, 2, 3}, blob)
		m.Args = append(m.Args, raw(`"text"`))
		// client → server → client (emit), and acked.
		check(t, s.Emit("echo", m))
		e := recv(t, got, "binary echo")
		if len(e.Attachments) != 2 || !bytes.Equal(e.Attachments[1], blob) || argsString(e) != `[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1},"text"]` {
			t.Fatalf("echo: %s %d", argsString(e), len(e.Attachments))
		}
		a, err := s.EmitWithAck(ctx, "echo", m)
		check(t, err)
		if len(a.Attachments) != 2 || !bytes.Equal(a.Attachments[0], []byte{1, 2, 3}) {
			t.Fatalf("ack attachments %v", a.Attachments)
		}
		// server → client, binary ack back.
		a, err = ss.EmitWithAck(ctx, "bin", Binary([]byte("hello")))
		check(t, err)
		if len(a.Attachments) != 1 || string(a.Attachments[0]) != "hello" {
			t.Fatalf("server ack attachments %q", a.Attachments)
		}
		// One encoding shared.
		enc, err := Encode("/", "echo", Binary([]byte("shared")))
		check(t, err)
		check(t, ss.Send(enc))
		if e := recv(t, got, "shared"); string(e.Attachments[0]) != "shared" {
			t.Fatalf("shared: %q", e.Attachments)
		}
		if err := ss.Send(mustEncode(t, "/admin", "x")); !errors.Is(err, ErrNamespace) {
			t.Fatalf("send to wrong nsp: %v", err)
		}
	})
}

func mustEncode(t *testing.T, nsp, event string) *Encoded {
	e, err := Encode(nsp, event, Message{})
	check(t, err)
	return e
}

func TestConnectRefused(t *testing.T) {
	t.Parallel()
	ts, _, _ := echoServer(t, Config{})
	c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{Reconnect: true})
	s := c.Socket("/admin", func() json.RawMessage { return raw(`{"token":"bad"}`) })
	errs := make(chan *ConnectError, 1)
	s.OnConnectError(func(err *ConnectError) { errs <- err })
	err := c.Connect(t.Context())
	var ce *ConnectError
	if !errors.As(err, &ce) || ce.Message != "not authorized" || string(ce.Data) != `{"code":4}` {
		t.Fatalf("connect: %v", err)
	}
	if e := recv(t, errs, "connect error"); e.Message != "not authorized" {
		t.Fatal(e)
	}
	closed(t, c.runDone, "client stops after refusal")

	c2 := newTestClient(t, ts.URL, eio.TransportPolling, ClientConfig{})
	c2.Socket("/nope", nil)
	if err := c2.Connect(t.Context()); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
		t.Fatalf("unknown namespace: %v", err)
	}
}

func TestServerDisconnectNoReconnect(t *testing.T) {
	t.Parallel()
	forTransports(t, func(t *testing.T, transport string) {
		ts, conns, gone := echoServer(t, Config{})
		c := newTestClient(t, ts.URL, transport, ClientConfig{Reconnect: true, BackoffMin: 10 * time.Millisecond})
		s := c.Socket("/", nil)
		disc := make(chan string, 2)
		s.OnDisconnect(func(reason string, will bool) { disc <- fmt.Sprint(reason, " ", will) })
		check(t, c.Connect(t.Context()))
		ss := recv(t, conns, "socket")
		ss.Disconnect("")
		ss.Disconnect("again") // idempotent
		if got := recv(t, gone, "server side"); got != "/ "+ReasonServerDisconnect {
			t.Fatalf("server reason %q", got)
		}
		if got := recv(t, disc, "client side"); got != ReasonIOServerDisconnect+" false" {
			t.Fatalf("client reason %q", got)
		}
		closed(t, ss.Done(), "socket done")
		closed(t, c.runDone, "client run loop ends: no reconnection")
		if s.Connected() {
			t.Fatal("still connected")
		}
		if err := s.Emit("x", Message{}); !errors.Is(err, ErrNotConnected) {
			t.Fatalf("emit after disconnect: %v", err)
		}
		if err := ss.Emit("x", Message{}); !errors.Is(err, ErrClosed) {
			t.Fatalf("server emit after disconnect: %v", err)
		}
	})
}

func TestReconnectAfterServerRestart(t *testing.T) {
	t.Parallel()
	forTransports(t, func(t *testing.T, transport string) {
		ts, conns, gone := echoServer(t, Config{})
		c := newTestClient(t, ts.URL, transport, ClientConfig{Reconnect: true, BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
		var auths atomic.Int32
		s := c.Socket("/", func() json.RawMessage {
			auths.Add(1)
			return raw(`{"token":"good"}`)
		})
		connects := make(chan struct{}, 4)
		s.OnConnect(func() { connects <- struct{}{} })
		disc := make(chan string, 4)
		s.OnDisconnect(func(reason string, will bool) { disc <- fmt.Sprint(reason, " ", will) })
		check(t, c.Connect(t.Context()))
		recv(t, connects, "first connect")
		recv(t, conns, "socket")
		addr := ts.Addr
		ts.Stop()
		if got := recv(t, gone, "server side"); got != "/ "+ReasonServerShutdown {
			t.Fatalf("server reason %q", got)
		}
		if got := recv(t, disc, "disconnect"); !strings.HasSuffix(got, " true") {
			t.Fatalf("disconnect %q", got)
		}
		// A new server on the same port.
		ts2, conns2, _ := echoServer2(t, addr)
		recv(t, connects, "reconnect")
		recv(t, conns2, "socket on the new server")
		m, err := s.EmitWithAck(t.Context(), "echo", Args(raw(`1`)))
		check(t, err)
		if argsString(m) != `[1]` || auths.Load() < 2 {
			t.Fatalf("after reconnect: %s auths %d", argsString(m), auths.Load())
		}
		_ = ts2
	})
}

// echoServer2 is echoServer on a given address.
func echoServer2(t *testing.T, addr string) (*testServer, chan *Socket, chan string) {
	srv := NewServer(Config{}, nil)
	conns := make(chan *Socket, 16)
	gone := make(chan string, 16)
	ns := srv.Of("/")
	ns.OnConnection(func(s *Socket) { conns <- s })
	ns.OnDisconnect(func(s *Socket, reason string) { gone <- reason })
	ns.On("echo", func(s *Socket, m Message, ack Ack) { _ = ack(m) })
	return startServer(t, srv, addr), conns, gone
}

func TestAckTimeoutAndCleanup(t *testing.T) {
	t.Parallel()
	ts, conns, _ := echoServer(t, Config{AckTimeout: 50 * time.Millisecond})
	c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{})
	s := c.Socket("/", nil)
	s.On("silent", func(m Message, ack Ack) {}) // never acks
	check(t, c.Connect(t.Context()))
	ss := recv(t, conns, "socket")
	if _, err := ss.EmitWithAck(context.Background(), "silent", Message{}); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("default timeout: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Millisecond)
	defer cancel()
	if _, err := ss.EmitWithAck(ctx, "silent", Message{}); !errors.Is(err, ErrAckTimeout) {
		t.Fatalf("ctx timeout: %v", err)
	}
	res := make(chan error, 1)
	check(t, ss.EmitWithAckFunc("silent", Message{}, time.Hour, func(_ Message, err error) { res <- err }))
	if ss.PendingAcks() != 1 {
		t.Fatalf("pending %d", ss.PendingAcks())
	}
	ss.Disconnect("")
	if err := recv(t, res, "ack func on disconnect"); !errors.Is(err, ErrClosed) {
		t.Fatalf("ack func: %v", err)
	}
	if ss.PendingAcks() != 0 {
		t.Fatalf("pending after disconnect %d", ss.PendingAcks())
	}
}

func TestServerLimitsAndBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		send   []eio.Message
		reason string
	}{
		{"event not array", []eio.Message{{Data: []byte(`2{"a":1}`)}}, ReasonParseError},
		{"bad type", []eio.Message{{Data: []byte(`9`)}}, ReasonParseError},
		{"connect error from client", []eio.Message{{Data: []byte(`4{"message":"x"}`)}}, ReasonParseError},
		{"stray binary", []eio.Message{{Data: []byte{1}, Binary: true}}, ReasonParseError},
		{"too many attachments", []eio.Message{{Data: []byte(`599-["a"]`)}}, ReasonTooLarge},
		{"too large", []eio.Message{{Data: []byte(`2["a","` + strings.Repeat("x", 5000) + `"]`)}}, ReasonTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, conns, gone := echoServer(t, Config{Config: eio.Config{MaxPayloadBytes: 4000}})
			h := &rawHandler{msgs: make(chan eio.Message, 16), closes: make(chan string, 1)}
			ec, err := eio.Dial(t.Context(), ts.URL, eio.DialConfig{}, h)
			check(t, err)
			defer ec.Close("test end")
			check(t, ec.Send(eio.Message{Data: []byte(`0`)}))
			if m := recv(t, h.msgs, "connect reply"); !bytes.HasPrefix(m.Data, []byte(`0{"sid":"`)) {
				t.Fatalf("connect reply %q", m.Data)
			}
			recv(t, conns, "socket")
			_ = ec.Send(tt.send...)
			if got := recv(t, gone, "disconnect"); got != "/ "+tt.reason {
				t.Fatalf("reason %q, want %q", got, tt.reason)
			}
			recv(t, h.closes, "session closed")
		})
	}
}

func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	ts, _, _ := echoServer(t, Config{ConnectTimeout: 100 * time.Millisecond})
	h := &rawHandler{msgs: make(chan eio.Message, 16), closes: make(chan string, 1)}
	ec, err := eio.Dial(t.Context(), ts.URL, eio.DialConfig{}, h)
	check(t, err)
	defer ec.Close("test end")
	recv(t, h.closes, "session closed without CONNECT")
	// Unknown namespace: CONNECT_ERROR, the session stays open.
	h2 := &rawHandler{msgs: make(chan eio.Message, 16), closes: make(chan string, 1)}
	ec2, err := eio.Dial(t.Context(), ts.URL, eio.DialConfig{}, h2)
	check(t, err)
	defer ec2.Close("test end")
	check(t, ec2.Send(eio.Message{Data: []byte(`0/nope,`)}))
	if m := recv(t, h2.msgs, "connect error"); string(m.Data) != `4/nope,{"message":"Invalid namespace"}` {
		t.Fatalf("got %q", m.Data)
	}
}

type rawHandler struct {
	msgs   chan eio.Message
	closes chan string
}

func (h *rawHandler) OnMessage(_ *eio.Conn, m eio.Message) { h.msgs <- m }
func (h *rawHandler) OnClose(_ *eio.Conn, reason string)   { h.closes <- reason }

// TestBackpressure: a client that stops reading first slows the server's
// Emit (it blocks on the bounded queue), then is disconnected with
// ReasonSlowConsumer once stalled past StallTimeout; the server never
// buffers more than the queue.
func TestBackpressure(t *testing.T) {
	t.Parallel()
	forTransports(t, func(t *testing.T, transport string) {
		ts, conns, gone := echoServer(t, Config{Config: eio.Config{SendQueue: 4, StallTimeout: 200 * time.Millisecond}})
		c := newTestClient(t, ts.URL, transport, ClientConfig{})
		s := c.Socket("/", nil)
		release := make(chan struct{})
		defer close(release)
		s.On("blob", func(m Message, ack Ack) { <-release }) // stops reading
		check(t, c.Connect(t.Context()))
		ss := recv(t, conns, "socket")
		blob := Binary(bytes.Repeat([]byte("x"), 64<<10))
		sent := 0
		var err error
		for sent < 10000 {
			if err = ss.Emit("blob", blob); err != nil {
				break
			}
			sent++
		}
		if !errors.Is(err, ErrSlowConsumer) {
			t.Fatalf("after %d emits: %v", sent, err)
		}
		if got := recv(t, gone, "disconnect"); got != "/ "+ReasonSlowConsumer {
			t.Fatalf("reason %q", got)
		}
		// Bounded: the queue (4) plus what the kernel buffers took.
		if sent > 1000 {
			t.Fatalf("%d emits of 64 KiB accepted before the stall", sent)
		}
		t.Logf("%s: %d emits of 64 KiB before the slow consumer was cut", transport, sent)
	})
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	min, max := 100*time.Millisecond, 2*time.Second
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0.5, 100 * time.Millisecond},
		{0, 0, 50 * time.Millisecond},
		{1, 0.5, 200 * time.Millisecond},
		{3, 0.99, 1192 * time.Millisecond},
		{4, 0.5, 1600 * time.Millisecond},
		{5, 0.5, 2 * time.Second},
		{5, 0, time.Second},
		{60, 0.9, 2 * time.Second},
	}
	for _, tt := range tests {
		if got := Backoff(tt.n, min, max, tt.r); got != tt.want {
			t.Errorf("Backoff(%d, r=%v) = %v, want %v", tt.n, tt.r, got, tt.want)
		}
	}
}
