package eio

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

func TestWebSocketHandshake(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: time.Hour})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	op, open := readWS(t, wc)
	if op != ws.OpText || !strings.HasPrefix(open, `0{"sid":"`) || !strings.Contains(open, `"upgrades":[]`) {
		t.Fatalf("open packet = %q", open)
	}
	c := recv(t, f.rec.conns, "accept")
	if c.Transport() != "websocket" {
		t.Fatalf("transport %q", c.Transport())
	}
	writeWS(t, wc, ws.OpText, "4hello")
	writeWS(t, wc, ws.OpBinary, "\x00\x01")
	f.rec.wantMsg(t, "hello", false)
	f.rec.wantMsg(t, "\x00\x01", true)
	if err := c.Send(Message{Data: []byte("x")}, Message{Data: []byte{9}, Binary: true}); err != nil {
		t.Fatal(err)
	}
	wantWS(t, wc, ws.OpText, "4x")
	wantWS(t, wc, ws.OpBinary, "\x09")

	// Polling with a websocket session's sid is refused.
	if r := f.do(t, "GET", "EIO=4&transport=polling&sid="+c.ID(), ""); r.status != 400 || r.body != `{"code":3,"message":"Bad request"}` {
		t.Fatalf("polling on websocket session: %d %q", r.status, r.body)
	}

	writeWS(t, wc, ws.OpText, "1")
	f.rec.wantClose(t, ReasonTransportClose)
	<-c.Done()
}

func TestWebSocketServerClose(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	readWS(t, wc)
	c := recv(t, f.rec.conns, "accept")
	for i := range 3 {
		if err := c.Send(Message{Data: []byte{'a' + byte(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	c.Close(ReasonForcedClose)
	// Queued messages are flushed before the close packet.
	for _, want := range []string{"4a", "4b", "4c", "1"} {
		wantWS(t, wc, ws.OpText, want)
	}
	_, _, err := wc.ReadMessage()
	if ce := (*ws.CloseError)(nil); !errors.As(err, &ce) {
		t.Fatalf("after close packet: %v, want a Close frame", err)
	}
	f.rec.wantClose(t, ReasonForcedClose)
}

func TestWebSocketTooLarge(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{MaxPayloadBytes: 100})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	readWS(t, wc)
	writeWS(t, wc, ws.OpText, "4"+strings.Repeat("x", 200))
	f.rec.wantClose(t, ReasonTooLarge)
}

func TestWebSocketParseError(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	readWS(t, wc)
	writeWS(t, wc, ws.OpText, "x")
	f.rec.wantClose(t, ReasonParseError)
}

func TestWebSocketPingTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	readWS(t, wc)
	for range 3 {
		wantWS(t, wc, ws.OpText, "2")
		writeWS(t, wc, ws.OpText, "3")
	}
	wantWS(t, wc, ws.OpText, "2")
	f.rec.wantClose(t, ReasonPingTimeout)
}

func TestWebSocketOrigin(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AllowedOrigins: []string{"https://app.example"}})
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	_, err := ws.Dial(ctx, f.url("EIO=4&transport=websocket"), http.Header{"Origin": {"https://evil.example"}}, ws.Config{})
	if err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v, want a 403 refusal", err)
	}
	wc := f.dialWS(t, "EIO=4&transport=websocket", http.Header{"Origin": {"https://app.example"}})
	readWS(t, wc)
}

// TestUpgrade follows engine.io-protocol's upgrade: probe, noop to the
// pending GET, "5", then the held packets flushed in order on the WebSocket.
func TestUpgrade(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: time.Hour})
	sid, c := f.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid

	pending := make(chan response, 1)
	go func() { pending <- doReq(t, "GET", f.url(q), "") }()
	waitPending(t, c)

	wc := f.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
	// A second WebSocket for the same sid is refused.
	ctx, cancel := context.WithTimeout(t.Context(), waitFor)
	defer cancel()
	if _, err := ws.Dial(ctx, f.url("EIO=4&transport=websocket&sid="+sid), nil, ws.Config{}); err == nil {
		t.Fatal("second websocket accepted")
	}

	writeWS(t, wc, ws.OpText, "2probe")
	wantWS(t, wc, ws.OpText, "3probe")
	if r := recv(t, pending, "pending GET"); r.body != "6" {
		t.Fatalf("pending GET = %q, want noop", r.body)
	}
	// Sent while upgrading: held for the WebSocket, in order.
	for _, m := range []string{"one", "two", "three"} {
		if err := c.Send(Message{Data: []byte(m)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Send(Message{Data: []byte{4}, Binary: true}); err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "GET", q, ""); r.body != "6" {
		t.Fatalf("GET while upgrading = %q, want noop", r.body)
	}
	writeWS(t, wc, ws.OpText, "5")
	wantWS(t, wc, ws.OpText, "4one")
	wantWS(t, wc, ws.OpText, "4two")
	wantWS(t, wc, ws.OpText, "4three")
	wantWS(t, wc, ws.OpBinary, "\x04")
	if c.Transport() != "websocket" {
		t.Fatalf("transport after upgrade: %q", c.Transport())
	}
	// HTTP requests for an upgraded session are refused.
	for _, m := range []string{"GET", "POST"} {
		if r := f.do(t, m, q, "4x"); r.status != 400 || r.body != `{"code":3,"message":"Bad request"}` {
			t.Fatalf("%s after upgrade: %d %q", m, r.status, r.body)
		}
	}
	writeWS(t, wc, ws.OpText, "4after")
	f.rec.wantMsg(t, "after", false)
	// And no other websocket either.
	if _, err := ws.Dial(ctx, f.url("EIO=4&transport=websocket&sid="+sid), nil, ws.Config{}); err == nil {
		t.Fatal("websocket accepted after upgrade")
	}
}

func TestUpgradeTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{UpgradeTimeout: 100 * time.Millisecond, PingInterval: time.Hour})
	sid, c := f.handshake(t)
	wc := f.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
	writeWS(t, wc, ws.OpText, "2probe")
	wantWS(t, wc, ws.OpText, "3probe")
	// No "5": the probe is dropped, the session stays on polling.
	_ = wc.SetReadDeadline(time.Now().Add(waitFor))
	if _, _, err := wc.ReadMessage(); err == nil {
		t.Fatal("probe websocket still open")
	}
	if err := c.Send(Message{Data: []byte("still polling")}); err != nil {
		t.Fatal(err)
	}
	if r := f.do(t, "GET", "EIO=4&transport=polling&sid="+sid, ""); r.body != "4still polling" {
		t.Fatalf("GET after failed upgrade: %q", r.body)
	}
	if c.Transport() != "polling" {
		t.Fatalf("transport %q", c.Transport())
	}
}

func TestUpgradeBadPacketAbandonsProbe(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: time.Hour})
	sid, c := f.handshake(t)
	wc := f.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
	writeWS(t, wc, ws.OpText, "4not a probe")
	_ = wc.SetReadDeadline(time.Now().Add(waitFor))
	if _, _, err := wc.ReadMessage(); err == nil {
		t.Fatal("probe websocket still open")
	}
	// A new probe is allowed afterwards.
	testutil.WaitFor(t, "probe abandoned", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.upgrade == upNone
	})
	wc2 := f.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
	writeWS(t, wc2, ws.OpText, "2probe")
	wantWS(t, wc2, ws.OpText, "3probe")
	writeWS(t, wc2, ws.OpText, "5")
	writeWS(t, wc2, ws.OpText, "4ok")
	f.rec.wantMsg(t, "ok", false)
}

func TestServerCloseClosesSessions(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	wc := f.dialWS(t, "EIO=4&transport=websocket", nil)
	readWS(t, wc)
	recv(t, f.rec.conns, "accept")
	sid, _ := f.handshake(t)
	got := make(chan response, 1)
	go func() { got <- doReq(t, "GET", f.url("EIO=4&transport=polling&sid="+sid), "") }()
	waitPending(t, f.srv.lookup(sid))
	f.srv.Close()
	f.rec.wantClose(t, ReasonServerShutdown)
	f.rec.wantClose(t, ReasonServerShutdown)
	wantWS(t, wc, ws.OpText, "1")
	if r := recv(t, got, "GET"); r.body != "1" {
		t.Fatalf("pending GET: %q", r.body)
	}
	if f.srv.Len() != 0 {
		t.Fatalf("Len = %d", f.srv.Len())
	}
	if r := f.do(t, "GET", "EIO=4&transport=polling", ""); r.status == 200 {
		t.Fatal("handshake accepted after Close")
	}
}

// TestServerReadCoalesce: a server's WebSocket sessions coalesce reads by
// default; a negative ReadCoalesce turns that off, a positive one sets the
// period. (Clients leave it off unless asked: DialConfig passes it as is.)
func TestServerReadCoalesce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ set, want time.Duration }{
		{0, DefaultReadCoalesce},
		{-1, 0},
		{2 * time.Millisecond, 2 * time.Millisecond},
	} {
		s := NewServer(Config{ReadCoalesce: tc.set}, nil, nil)
		if got := s.wsConfig().ReadCoalesce; got != tc.want {
			t.Errorf("ReadCoalesce %v: the sessions' period is %v, want %v", tc.set, got, tc.want)
		}
	}
	if got := (&DialConfig{}).wsConfig().ReadCoalesce; got != 0 {
		t.Errorf("a client's period is %v by default, want 0 (off)", got)
	}
}

// seqHandler records the order of OnMessage calls and whether two ever ran
// at once; "slow" blocks until release is closed.
type seqHandler struct {
	conns   chan *Conn
	entered chan string
	closes  chan string
	release chan struct{}
	freed   sync.Once
	running atomic.Int32
	overlap atomic.Bool
}

// free lets "slow" return.
func (h *seqHandler) free() { h.freed.Do(func() { close(h.release) }) }

func (h *seqHandler) OnMessage(c *Conn, m Message) {
	if h.running.Add(1) > 1 {
		h.overlap.Store(true)
	}
	h.entered <- string(m.Data)
	if string(m.Data) == "slow" {
		<-h.release
	}
	h.running.Add(-1)
}

func (h *seqHandler) OnClose(c *Conn, reason string) { h.closes <- reason }

// seqFixture is an engine whose sessions all use one seqHandler.
func seqFixture(tb testing.TB) (*fixture, *seqHandler) {
	tb.Helper()
	h := &seqHandler{conns: make(chan *Conn, 4), entered: make(chan string, 16), closes: make(chan string, 4), release: make(chan struct{})}
	f := &fixture{srv: NewServer(Config{PingInterval: time.Hour}, nil, func(c *Conn) Handler { h.conns <- c; return h })}
	mux := http.NewServeMux()
	mux.Handle("/engine.io/{$}", f.srv)
	f.ts = httptest.NewServer(mux)
	tb.Cleanup(func() {
		h.free()
		f.srv.Close()
		f.ts.Close()
	})
	return f, h
}

// upgradeDuringPOST opens a polling session, starts a POST of body whose
// first message blocks the handler ("slow"), and completes an upgrade
// meanwhile; the POST's response arrives on the returned channel.
func upgradeDuringPOST(t *testing.T, f *fixture, h *seqHandler, body string) (*Conn, *ws.Conn, chan response) {
	t.Helper()
	r := f.do(t, "GET", "EIO=4&transport=polling", "")
	if r.status != 200 || !strings.HasPrefix(r.body, `0{"sid":"`) {
		t.Fatalf("handshake: %d %q", r.status, r.body)
	}
	sid := r.body[len(`0{"sid":"`):]
	sid = sid[:strings.IndexByte(sid, '"')]
	c := recv(t, h.conns, "accept")
	post := make(chan response, 1)
	go func() { post <- doReq(t, "POST", f.url("EIO=4&transport=polling&sid="+sid), body) }()
	if got := recv(t, h.entered, "slow"); got != "slow" {
		t.Fatalf("first message %q", got)
	}
	wc := f.dialWS(t, "EIO=4&transport=websocket&sid="+sid, nil)
	writeWS(t, wc, ws.OpText, "2probe")
	wantWS(t, wc, ws.OpText, "3probe")
	writeWS(t, wc, ws.OpText, "5")
	return c, wc, post
}

// TestUpgradeWaitsForPOST is the regression test for an upgrade completed
// while a polling POST was still delivering: the WebSocket's reader
// started at once, so two OnMessage calls of one session ran at the same
// time (breaking "calls for one session are sequential") and a message
// sent on the WebSocket overtook the rest of the POST. The reader now waits
// for the POST to finish.
func TestUpgradeWaitsForPOST(t *testing.T) {
	t.Parallel()
	f, h := seqFixture(t)
	c, wc, post := upgradeDuringPOST(t, f, h, "4slow\x1e4second")
	writeWS(t, wc, ws.OpText, "4fast")
	// Either the reader waits for the POST, or (the bug) it delivers "fast"
	// while "slow" still runs.
	testutil.WaitFor(t, "the upgraded reader waiting for the POST", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.postWait != nil || len(h.entered) > 0
	})
	h.free()
	if r := recv(t, post, "POST response"); r.status != 200 || r.body != "ok" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	for _, want := range []string{"second", "fast"} {
		if got := recv(t, h.entered, want); got != want {
			t.Fatalf("delivered %q, want %q (the POST's messages first)", got, want)
		}
	}
	if h.overlap.Load() {
		t.Fatal("two OnMessage calls of one session overlapped")
	}
	if c.Transport() != TransportWebSocket {
		t.Fatalf("transport %q", c.Transport())
	}
	writeWS(t, wc, ws.OpText, "4after")
	if got := recv(t, h.entered, "after"); got != "after" {
		t.Fatalf("delivered %q", got)
	}
}

// TestUpgradeWaitReleasedOnClose: a session closed while its upgraded
// reader waits for a POST whose handler is stuck lets the reader exit
// (no goroutine stays behind it); OnClose follows once the POST's handler
// returns.
func TestUpgradeWaitReleasedOnClose(t *testing.T) {
	t.Parallel()
	f, h := seqFixture(t)
	c, wc, post := upgradeDuringPOST(t, f, h, "4slow")
	testutil.WaitFor(t, "the upgraded reader waiting for the POST", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.postWait != nil
	})
	c.Close(ReasonForcedClose)
	// Only the POST still holds the session: the reader has left.
	testutil.WaitFor(t, "the reader to exit", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.refs == 1
	})
	_ = wc.SetReadDeadline(time.Now().Add(waitFor))
	for {
		if _, _, err := wc.ReadMessage(); err != nil {
			break
		}
	}
	select {
	case r := <-h.closes:
		t.Fatalf("OnClose(%q) while the POST's OnMessage runs", r)
	default:
	}
	h.free()
	recv(t, post, "POST response")
	if got := recv(t, h.closes, "close"); got != ReasonForcedClose {
		t.Fatalf("close reason %q", got)
	}
	if h.overlap.Load() {
		t.Fatal("two OnMessage calls of one session overlapped")
	}
}
