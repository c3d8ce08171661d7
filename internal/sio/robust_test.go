package sio

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// errorLogger returns a logger writing Error records (and above) to buf.
func errorLogger(buf *testutil.LogBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelError}))
}

// TestServerRefusesBadPlaceholder is the regression test for binary
// packets accepted, and relayed, with a placeholder that indexes no
// attachment ({"_placeholder":true,"num":5} with one): npm's
// socket.io-parser throws "illegal attachments" on them, so every stock
// receiver of the relayed packet dropped its connection. The server now
// closes the sender's session with a parse error, without calling the
// handler; a valid binary event still goes through.
func TestServerRefusesBadPlaceholder(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		text string
		ok   bool
	}{
		{"valid", `51-["echo",{"_placeholder":true,"num":0}]`, true},
		{"num past attachments", `51-["echo",{"_placeholder":true,"num":5}]`, false},
		{"negative num", `51-["echo",{"x":[{"_placeholder":true,"num":-1}]}]`, false},
		{"no num", `51-["echo",{"_placeholder":true}]`, false},
		{"binary ack", `61-0[{"_placeholder":true,"num":1}]`, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts, conns, gone := echoServer(t, Config{})
			h := &rawHandler{msgs: make(chan eio.Message, 16), closes: make(chan string, 1)}
			ec, err := eio.Dial(t.Context(), ts.URL, eio.DialConfig{}, h)
			check(t, err)
			defer ec.Close("test end")
			check(t, ec.Send(eio.Message{Data: []byte(`0`)}))
			recv(t, h.msgs, "connect reply")
			recv(t, conns, "socket")
			check(t, ec.Send(eio.Message{Data: []byte(tt.text)}, eio.Message{Data: []byte{1, 2, 3}, Binary: true}))
			if tt.ok {
				// echo emits the packet back: text, then the attachment.
				if m := recv(t, h.msgs, "echo"); string(m.Data) != tt.text {
					t.Fatalf("echo %q", m.Data)
				}
				if m := recv(t, h.msgs, "attachment"); !m.Binary || string(m.Data) != "\x01\x02\x03" {
					t.Fatalf("attachment %q", m.Data)
				}
				return
			}
			if got := recv(t, gone, "disconnect"); got != "/ "+ReasonParseError {
				t.Fatalf("reason %q, want %q", got, "/ "+ReasonParseError)
			}
			recv(t, h.closes, "session closed")
			select {
			case m := <-h.msgs:
				t.Fatalf("the server answered %q", m.Data)
			default:
			}
		})
	}
}

// TestClientRefusesBadPlaceholder: our client, too, treats a binary event
// whose placeholder indexes no attachment as a parse error (as the npm
// client does) instead of handing it to the handler.
func TestClientRefusesBadPlaceholder(t *testing.T) {
	t.Parallel()
	ts, conns, _ := echoServer(t, Config{})
	c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{})
	s := c.Socket("/", nil)
	got := make(chan Message, 1)
	s.On("bin", func(m Message, _ Ack) { got <- m })
	disc := make(chan string, 1)
	s.OnDisconnect(func(reason string, _ bool) { disc <- reason })
	check(t, c.Connect(t.Context()))
	ss := recv(t, conns, "socket")
	bad := Message{Args: []json.RawMessage{Placeholder(1)}, Attachments: [][]byte{{1}}}
	check(t, ss.Emit("bin", bad))
	if r := recv(t, disc, "disconnect"); r != ReasonParseError {
		t.Fatalf("reason %q, want %q", r, ReasonParseError)
	}
	select {
	case m := <-got:
		t.Fatalf("handler got %s", argsString(m))
	default:
	}
}

// TestClientDisconnectPanicRecovered is the regression test for a
// panicking OnDisconnect on the client side: called on the engine's
// goroutine that ends the session (or in Close), it had no recover (the
// server's has, safeDisconnect) and took the process down. It is now
// logged at Error and the client goes on.
func TestClientDisconnectPanicRecovered(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"server stops", "client closes"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			ts, conns, _ := echoServer(t, Config{})
			logs := &testutil.LogBuffer{}
			c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{Logger: errorLogger(logs)})
			s := c.Socket("/", nil)
			called := make(chan string, 1)
			s.OnDisconnect(func(reason string, _ bool) {
				called <- reason
				panic("user callback: " + reason)
			})
			check(t, c.Connect(t.Context()))
			recv(t, conns, "socket")
			if how == "server stops" {
				ts.Stop()
			} else {
				check(t, c.Close())
			}
			recv(t, called, "OnDisconnect")
			testutil.WaitFor(t, "the panic logged", func() bool {
				return strings.Contains(logs.String(), "disconnect handler panic")
			})
			check(t, c.Close())
		})
	}
}

// TestAckCallbackPanicRecovered is the regression test for callback acks
// (EmitWithAckFunc) failed by the table's timer sweep or by the socket's
// close: they ran without a recover on the timer's goroutine and on the
// one ending the session, so a panicking callback took the process down.
// It is now logged at Error; both sides go on working.
func TestAckCallbackPanicRecovered(t *testing.T) {
	t.Parallel()
	srvLogs := &testutil.LogBuffer{}
	srv := NewServer(Config{}, errorLogger(srvLogs))
	conns := make(chan *Socket, 4)
	ns := srv.Of("/")
	ns.OnConnection(func(s *Socket) { conns <- s })
	ns.On("echo", func(s *Socket, m Message, ack Ack) { _ = ack(m) })
	ts := startServer(t, srv, "127.0.0.1:0")
	cliLogs := &testutil.LogBuffer{}
	c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{Logger: errorLogger(cliLogs)})
	cs := c.Socket("/", nil)
	check(t, c.Connect(t.Context()))
	ss := recv(t, conns, "socket")

	called := make(chan error, 4)
	boom := func(_ Message, err error) {
		called <- err
		panic("user ack callback")
	}
	// Neither side acks "silent": the sweep fails both with ErrAckTimeout.
	check(t, cs.EmitWithAckFunc("silent", Message{}, time.Millisecond, boom))
	check(t, ss.EmitWithAckFunc("silent", Message{}, time.Millisecond, boom))
	for range 2 {
		if err := recv(t, called, "ack callback"); !errors.Is(err, ErrAckTimeout) {
			t.Fatalf("ack callback err %v", err)
		}
	}
	for _, l := range []*testutil.LogBuffer{cliLogs, srvLogs} {
		testutil.WaitFor(t, "the panic logged", func() bool { return strings.Contains(l.String(), "ack callback panic") })
	}
	m, err := cs.EmitWithAck(t.Context(), "echo", Args(raw(`1`)))
	check(t, err)
	if argsString(m) != `[1]` {
		t.Fatalf("echo after the panics: %s", argsString(m))
	}
	// Failed by the close, on the engine's goroutine ending the session.
	check(t, ss.EmitWithAckFunc("silent", Message{}, time.Hour, boom))
	ts.Stop()
	if err := recv(t, called, "ack callback on close"); !errors.Is(err, ErrClosed) {
		t.Fatalf("ack callback err %v", err)
	}
	testutil.WaitFor(t, "the close's panic logged", func() bool {
		return strings.Count(srvLogs.String(), "ack callback panic") == 2
	})
}

// stalledPoller opens a polling session, connects namespace "/" and takes
// the CONNECT reply, then never polls again: the server's queue for it
// only fills.
func stalledPoller(tb testing.TB, base string) {
	tb.Helper()
	get := func(q string) string {
		tb.Helper()
		r, err := http.Get(base + "/socket.io/?EIO=4&transport=polling" + q)
		if err != nil {
			tb.Fatal(err)
		}
		defer r.Body.Close()
		b, err := io.ReadAll(r.Body)
		if err != nil || r.StatusCode != 200 {
			tb.Fatalf("GET: %d %q %v", r.StatusCode, b, err)
		}
		return string(b)
	}
	open := get("")
	var hs struct{ SID string }
	if err := json.Unmarshal([]byte(strings.TrimPrefix(open, "0")), &hs); err != nil {
		tb.Fatalf("open packet %q: %v", open, err)
	}
	r, err := http.Post(base+"/socket.io/?EIO=4&transport=polling&sid="+hs.SID, "text/plain", strings.NewReader("40"))
	if err != nil {
		tb.Fatal(err)
	}
	_ = r.Body.Close()
	if reply := get("&sid=" + hs.SID); !strings.HasPrefix(reply, "40") {
		tb.Fatalf("CONNECT reply %q", reply)
	}
}

// TestBroadcastDoesNotWaitForStalledClients is the regression test for a
// fan-out that sent to each socket in turn, each Send waiting up to the
// socket's StallTimeout on a full queue: stalled polling clients delayed a
// broadcast to the healthy ones by their StallTimeout each (an hour here).
// Broadcast now never waits: the healthy client gets every broadcast, in
// order, while the stalled ones never poll, and those whose queue is full
// are cut off as slow consumers.
func TestBroadcastDoesNotWaitForStalledClients(t *testing.T) {
	t.Parallel()
	srv := NewServer(Config{Config: eio.Config{SendQueue: 2, StallTimeout: time.Hour, PingInterval: time.Hour}}, nil)
	ns := srv.Of("/")
	conns := make(chan *Socket, 16)
	gone := make(chan string, 16)
	ns.OnConnection(func(s *Socket) { conns <- s })
	ns.OnDisconnect(func(s *Socket, reason string) { gone <- reason })
	ts := startServer(t, srv, "127.0.0.1:0")

	const stalled = 5
	for range stalled {
		stalledPoller(t, ts.URL)
		recv(t, conns, "stalled socket")
	}
	c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{})
	news := make(chan string, 8)
	c.Socket("/", nil).On("news", func(m Message, _ Ack) { news <- string(m.Args[0]) })
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	check(t, c.Connect(ctx))
	recv(t, conns, "healthy socket")

	// The stalled queues take two packets (SendQueue); the third
	// broadcast finds them full.
	for i, want := range []int{stalled + 1, stalled + 1, 1} {
		enc, err := Encode("/", "news", Args(raw(strconv.Itoa(i))))
		check(t, err)
		done := make(chan int, 1)
		go func() { done <- ns.Broadcast(enc) }()
		if n := recv(t, done, "Broadcast to return"); n != want {
			t.Fatalf("broadcast %d queued for %d sockets, want %d", i, n, want)
		}
		if got := recv(t, news, "broadcast on the healthy client"); got != strconv.Itoa(i) {
			t.Fatalf("healthy client got %s, want %d", got, i)
		}
	}
	for range stalled {
		if r := recv(t, gone, "stalled client cut off"); r != ReasonSlowConsumer {
			t.Fatalf("reason %q, want %q", r, ReasonSlowConsumer)
		}
	}
	if n := ns.Len(); n != 1 {
		t.Fatalf("%d sockets left, want the healthy one", n)
	}
}

// TestClientAuthAndConnectErrorPanics: a panicking auth callback refuses
// that CONNECT (it is not sent without its payload) and a panicking
// OnConnectError handler is logged; neither takes the process down.
func TestClientAuthAndConnectErrorPanics(t *testing.T) {
	t.Parallel()
	ts, _, _ := echoServer(t, Config{})
	logs := &testutil.LogBuffer{}
	c := newTestClient(t, ts.URL, eio.TransportWebSocket, ClientConfig{Logger: errorLogger(logs)})
	s := c.Socket("/", func() json.RawMessage { panic("user auth") })
	refused := make(chan string, 1)
	s.OnConnectError(func(ce *ConnectError) {
		refused <- ce.Message
		panic("user connect error handler")
	})
	_ = c.Connect(t.Context()) // refused: the error is what OnConnectError reports
	if msg := recv(t, refused, "OnConnectError"); !strings.Contains(msg, "auth callback panicked") {
		t.Fatalf("connect error %q", msg)
	}
	testutil.WaitFor(t, "both panics logged", func() bool {
		l := logs.String()
		return strings.Contains(l, "auth callback panic") && strings.Contains(l, "connect error handler panic")
	})
}
