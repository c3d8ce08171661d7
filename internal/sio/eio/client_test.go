package eio

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func dialClient(tb testing.TB, f *fixture, cfg DialConfig) (*Conn, *recorder) {
	tb.Helper()
	rec := newRecorder()
	cfg.Path = "/engine.io/"
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := Dial(ctx, f.ts.URL, cfg, rec)
	if err != nil {
		tb.Fatalf("Dial: %v", err)
	}
	tb.Cleanup(func() { c.Close(ReasonForcedClose); <-c.Done() })
	return c, rec
}

func TestClientServer(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name      string
		cfg       DialConfig
		transport string
		tls       bool
	}{
		{name: "websocket", cfg: DialConfig{}, transport: "websocket"},
		{name: "polling then upgrade", cfg: DialConfig{Polling: true}, transport: "websocket"},
		{name: "polling only", cfg: DialConfig{Polling: true, Config: Config{Transports: []string{"polling"}}}, transport: "polling"},
		{name: "tls websocket", cfg: DialConfig{}, transport: "websocket", tls: true},
		{name: "tls polling then upgrade", cfg: DialConfig{Polling: true}, transport: "websocket", tls: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := newFixtureTLS(t, Config{PingInterval: 100 * time.Millisecond, PingTimeout: 5 * time.Second}, tt.tls)
			if tt.tls {
				pool := x509.NewCertPool()
				pool.AddCert(f.ts.Certificate())
				tt.cfg.TLS = &tls.Config{RootCAs: pool}
			}
			c, crec := dialClient(t, f, tt.cfg)
			sc := recv(t, f.rec.conns, "accept")
			if sc.ID() != c.ID() {
				t.Fatalf("sid %q vs %q", sc.ID(), c.ID())
			}
			const n = 50
			for i := range n {
				if err := c.Send(Message{Data: fmt.Appendf(nil, "c%d", i)}, Message{Data: []byte{byte(i)}, Binary: true}); err != nil {
					t.Fatal(err)
				}
				if err := sc.Send(Message{Data: fmt.Appendf(nil, "s%d", i)}, Message{Data: []byte{byte(i), 0}, Binary: true}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range n {
				f.rec.wantMsg(t, fmt.Sprintf("c%d", i), false)
				f.rec.wantMsg(t, string([]byte{byte(i)}), true)
				crec.wantMsg(t, fmt.Sprintf("s%d", i), false)
				crec.wantMsg(t, string([]byte{byte(i), 0}), true)
			}
			if c.Transport() != tt.transport || sc.Transport() != tt.transport {
				t.Fatalf("transports: client %q server %q, want %q", c.Transport(), sc.Transport(), tt.transport)
			}
			// Several heartbeats go round (PingInterval is 100ms) without a close.
			waitPongs(t, sc, 3)
			select {
			case r := <-crec.closes:
				t.Fatalf("client closed: %s", r)
			default:
			}
			// Server-initiated close reaches the client.
			if err := sc.Send(Message{Data: []byte("bye")}); err != nil {
				t.Fatal(err)
			}
			sc.Close(ReasonForcedClose)
			crec.wantMsg(t, "bye", false)
			crec.wantClose(t, ReasonTransportClose)
			f.rec.wantClose(t, ReasonForcedClose)
		})
	}
}

func TestClientClose(t *testing.T) {
	t.Parallel()
	for _, polling := range []bool{false, true} {
		t.Run(fmt.Sprint("polling=", polling), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			cfg := DialConfig{Polling: polling}
			if polling {
				cfg.Transports = []string{"polling"}
			}
			c, crec := dialClient(t, f, cfg)
			recv(t, f.rec.conns, "accept")
			if err := c.Send(Message{Data: []byte("last words")}); err != nil {
				t.Fatal(err)
			}
			c.Close(ReasonForcedClose)
			f.rec.wantMsg(t, "last words", false)
			f.rec.wantClose(t, ReasonTransportClose)
			crec.wantClose(t, ReasonForcedClose)
		})
	}
}

// TestClientPingTimeout: a server that stops pinging is noticed by the
// client within pingInterval+pingTimeout.
func TestClientPingTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	c, crec := dialClient(t, f, DialConfig{})
	sc := recv(t, f.rec.conns, "accept")
	// Freeze the server side's heartbeat.
	sc.mu.Lock()
	sc.stopTimerLocked()
	sc.mu.Unlock()
	crec.wantClose(t, ReasonPingTimeout)
	<-c.Done()
}

// TestSlowConsumer: a peer that does not read makes Send block, then the
// session is closed as a slow consumer; the queue stays bounded.
func TestSlowConsumer(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{SendQueue: 8, StallTimeout: 200 * time.Millisecond, PingInterval: time.Hour})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	readWS(t, wc)
	sc := recv(t, f.rec.conns, "accept")
	// The raw client never reads again: once the socket buffers are full
	// the writer blocks and the queue fills.
	chunk := Message{Data: bytes.Repeat([]byte("x"), 64<<10)}
	var err error
	sent := 0
	for sent < 10000 {
		if err = sc.Send(chunk); err != nil {
			break
		}
		sent++
		sc.mu.Lock()
		if n := len(sc.queue); n > 8 {
			sc.mu.Unlock()
			t.Fatalf("queue grew to %d", n)
		}
		sc.mu.Unlock()
	}
	if err != ErrSlowConsumer {
		t.Fatalf("Send after %d messages: %v, want ErrSlowConsumer", sent, err)
	}
	f.rec.wantClose(t, ReasonSlowConsumer)
	if err := sc.Send(chunk); err != ErrClosed {
		t.Fatalf("Send after close: %v", err)
	}
}

// TestBackpressure: while OnMessage blocks, the server stops reading, so a
// client's queue fills and its Send blocks (then gives up as slow consumer).
func TestBackpressure(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: time.Hour})
	f.rec.block = make(chan struct{})
	c, crec := dialClient(t, f, DialConfig{Config: Config{SendQueue: 4, StallTimeout: 300 * time.Millisecond}})
	recv(t, f.rec.conns, "accept")
	chunk := Message{Data: bytes.Repeat([]byte("y"), 64<<10)}
	var err error
	for range 10000 {
		if err = c.Send(chunk); err != nil {
			break
		}
	}
	if err != ErrSlowConsumer {
		t.Fatalf("Send: %v, want ErrSlowConsumer", err)
	}
	crec.wantClose(t, ReasonSlowConsumer)
	close(f.rec.block)
	recv(t, f.rec.closes, "server close")
}

// waitPongs waits until the server side of c has had n pongs answered
// (each re-arms its timer for the next ping).
func waitPongs(tb testing.TB, c *Conn, n int) {
	tb.Helper()
	var last time.Time
	testutil.WaitFor(tb, "heartbeats", func() bool {
		c.mu.Lock()
		at, waiting := c.timerAt, c.awaitPong
		c.mu.Unlock()
		if !waiting && !at.Equal(last) {
			if !last.IsZero() {
				n--
			}
			last = at
		}
		return n <= 0
	})
}

// TestCloseOnceUnderRace closes one session from many sides at once; the
// handler must see exactly one OnClose.
func TestCloseOnceUnderRace(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	for range 20 {
		c, crec := dialClient(t, f, DialConfig{})
		sc := recv(t, f.rec.conns, "accept")
		done := make(chan struct{})
		for i := range 4 {
			go func() {
				defer func() { done <- struct{}{} }()
				switch i {
				case 0:
					sc.Close(ReasonForcedClose)
				case 1:
					c.Close(ReasonForcedClose)
				case 2:
					_ = sc.Send(Message{Data: []byte("x")})
				default:
					sc.closeWith(ReasonTransportError, false)
				}
			}()
		}
		for range 4 {
			<-done
		}
		recv(t, f.rec.closes, "server OnClose")
		recv(t, crec.closes, "client OnClose")
		<-sc.Done()
		<-c.Done()
		select {
		case r := <-f.rec.closes:
			t.Fatalf("second server OnClose: %s", r)
		case r := <-crec.closes:
			t.Fatalf("second client OnClose: %s", r)
		default:
		}
	}
}

// FuzzParseOpen feeds arbitrary open packets to the client's handshake
// parser: it must return a usable handshake or an error, never panic.
func FuzzParseOpen(f *testing.F) {
	f.Add([]byte(`0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`), false)
	f.Add([]byte(`0{"sid":"","pingInterval":1}`), false)
	f.Add([]byte(`0{}`), false)
	f.Add([]byte(`4hello`), false)
	f.Add([]byte{0}, true)
	f.Fuzz(func(t *testing.T, p []byte, binary bool) {
		hs, err := parseOpen(p, binary)
		if err == nil && (hs.SID == "" || hs.PingInterval <= 0 || hs.PingTimeout <= 0) {
			t.Fatalf("accepted incomplete handshake %+v", hs)
		}
	})
}

// TestClientPollingRespectsMaxPayload: the polling client splits its queue
// into POSTs no larger than the server's maxPayload instead of tripping 413.
func TestClientPollingRespectsMaxPayload(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{MaxPayloadBytes: 100, PingInterval: time.Hour})
	c, _ := dialClient(t, f, DialConfig{Polling: true, Config: Config{Transports: []string{"polling"}}})
	recv(t, f.rec.conns, "accept")
	msgs := make([]Message, 10)
	for i := range msgs {
		msgs[i] = Message{Data: bytes.Repeat([]byte{'a' + byte(i)}, 40)}
	}
	if err := c.Send(msgs...); err != nil {
		t.Fatal(err)
	}
	for i := range msgs {
		f.rec.wantMsg(t, string(msgs[i].Data), false)
	}
	select {
	case r := <-f.rec.closes:
		t.Fatalf("session closed: %s", r)
	default:
	}
}
