package eio

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestHandshakePolling(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: 3 * time.Second, PingTimeout: 2 * time.Second, MaxPayloadBytes: 5000})
	r := f.do(t, "GET", "EIO=4&transport=polling&t=abc", "")
	if r.status != 200 {
		t.Fatalf("status %d", r.status)
	}
	if ct := r.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	if r.body[0] != '0' {
		t.Fatalf("body %q is not an open packet", r.body)
	}
	var hs struct {
		SID          string   `json:"sid"`
		Upgrades     []string `json:"upgrades"`
		PingInterval int      `json:"pingInterval"`
		PingTimeout  int      `json:"pingTimeout"`
		MaxPayload   int      `json:"maxPayload"`
	}
	if err := json.Unmarshal([]byte(r.body[1:]), &hs); err != nil {
		t.Fatal(err)
	}
	if len(hs.SID) != 20 || strings.Trim(hs.SID, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		t.Errorf("sid %q: want 20 URL-safe characters", hs.SID)
	}
	if len(hs.Upgrades) != 1 || hs.Upgrades[0] != "websocket" || hs.PingInterval != 3000 || hs.PingTimeout != 2000 || hs.MaxPayload != 5000 {
		t.Errorf("handshake = %+v", hs)
	}
	c := recv(t, f.rec.conns, "accept")
	if c.ID() != hs.SID || c.Transport() != "polling" || c.Query().Get("t") != "abc" || c.RemoteAddr() == "" {
		t.Errorf("conn id=%q transport=%q query=%v remote=%q", c.ID(), c.Transport(), c.Query(), c.RemoteAddr())
	}
	if f.srv.Len() != 1 {
		t.Errorf("Len = %d, want 1", f.srv.Len())
	}
}

func TestRefusedRequests(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AllowRequest: func(r *http.Request) error {
		if r.Header.Get("X-Deny") != "" {
			return io.EOF
		}
		return nil
	}})
	sid, _ := f.handshake(t)
	tests := []struct {
		name   string
		method string
		query  string
		hdr    []string
		status int
		body   string
	}{
		{"unknown transport", "GET", "EIO=4&transport=carrier-pigeon", nil, 400, `{"code":0,"message":"Transport unknown"}`},
		{"missing transport", "GET", "EIO=4", nil, 400, `{"code":0,"message":"Transport unknown"}`},
		{"unknown sid", "GET", "EIO=4&transport=polling&sid=nope", nil, 400, `{"code":1,"message":"Session ID unknown"}`},
		{"POST handshake", "POST", "EIO=4&transport=polling", nil, 400, `{"code":2,"message":"Bad handshake method"}`},
		{"PUT handshake", "PUT", "EIO=4&transport=polling", nil, 400, `{"code":2,"message":"Bad handshake method"}`},
		{"websocket without upgrade", "GET", "EIO=4&transport=websocket", nil, 400, `{"code":3,"message":"Bad request"}`},
		{"sid with websocket without upgrade", "GET", "EIO=4&transport=websocket&sid=" + sid, nil, 400, `{"code":3,"message":"Bad request"}`},
		{"sid with other protocol", "GET", "EIO=3&transport=polling&sid=" + sid, nil, 400, `{"code":3,"message":"Bad request"}`},
		{"forbidden", "GET", "EIO=4&transport=polling", []string{"X-Deny", "1"}, 403, `{"code":4,"message":"Forbidden"}`},
		{"EIO 3", "GET", "EIO=3&transport=polling", nil, 400, `{"code":5,"message":"Unsupported protocol version"}`},
		{"no EIO", "GET", "transport=polling", nil, 400, `{"code":5,"message":"Unsupported protocol version"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := f.do(t, tt.method, tt.query, "", tt.hdr...)
			if r.status != tt.status || r.body != tt.body || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("got %d %q (%s), want %d %q", r.status, r.body, r.header.Get("Content-Type"), tt.status, tt.body)
			}
		})
	}
}

func TestPollingExchange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	sid, c := f.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid

	r := f.do(t, "POST", q, "4hello\x1ebAQID\x1e4€", "Content-Type", "text/plain;charset=UTF-8")
	if r.status != 200 || r.body != "ok" || r.header.Get("Content-Type") != "text/html" {
		t.Fatalf("POST: %d %q %q", r.status, r.body, r.header.Get("Content-Type"))
	}
	f.rec.wantMsg(t, "hello", false)
	f.rec.wantMsg(t, "\x01\x02\x03", true)
	f.rec.wantMsg(t, "€", false)

	if err := c.Send(Message{Data: []byte("a")}, Message{Data: []byte{0xff, 0}, Binary: true}); err != nil {
		t.Fatal(err)
	}
	r = f.do(t, "GET", q, "")
	if r.status != 200 || r.body != "4a\x1eb/wA=" {
		t.Fatalf("GET: %d %q", r.status, r.body)
	}

	// A pending GET is answered when a message is sent.
	got := make(chan response, 1)
	go func() { got <- doReq(t, "GET", f.url(q), "") }()
	waitPending(t, c)
	if err := c.Send(Message{Data: []byte("later")}); err != nil {
		t.Fatal(err)
	}
	if r := recv(t, got, "GET"); r.body != "4later" {
		t.Fatalf("GET: %q", r.body)
	}

	// Server-side close: a pending GET gets the queue and a close packet.
	go func() { got <- doReq(t, "GET", f.url(q), "") }()
	waitPending(t, c)
	c.Close(ReasonForcedClose)
	if r := recv(t, got, "GET"); r.body != "1" {
		t.Fatalf("GET after close: %q", r.body)
	}
	f.rec.wantClose(t, ReasonForcedClose)
	c.Close("again") // idempotent
	if err := c.Send(Message{Data: []byte("x")}); err != ErrClosed {
		t.Fatalf("Send after close = %v", err)
	}
	<-c.Done()
	if r := f.do(t, "GET", q, ""); r.status != 400 {
		t.Fatalf("GET after close: %d", r.status)
	}
}

// waitPending waits until c has a GET parked.
func waitPending(tb testing.TB, c *Conn) {
	tb.Helper()
	testutil.WaitFor(tb, "pending GET", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.getWait
	})
}

func TestPollingCloseWithoutPendingGET(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	sid, c := f.handshake(t)
	if err := c.Send(Message{Data: []byte("bye")}); err != nil {
		t.Fatal(err)
	}
	c.Close(ReasonForcedClose)
	f.rec.wantClose(t, ReasonForcedClose)
	// The next poll still learns what was queued, and that it is over.
	if r := f.do(t, "GET", "EIO=4&transport=polling&sid="+sid, ""); r.body != "4bye\x1e1" {
		t.Fatalf("GET: %d %q", r.status, r.body)
	}
	if f.srv.Len() != 0 {
		t.Fatalf("Len = %d", f.srv.Len())
	}
}

func TestPollingOverlapCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	sid, c := f.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	first := make(chan response, 1)
	go func() { first <- doReq(t, "GET", f.url(q), "") }()
	waitPending(t, c)
	if r := f.do(t, "GET", q, ""); r.status != 400 {
		t.Fatalf("overlapping GET: %d %q", r.status, r.body)
	}
	f.rec.wantClose(t, ReasonTransportError)
	if r := recv(t, first, "first GET"); r.body != "1" {
		t.Fatalf("first GET: %q", r.body)
	}
}

func TestPollingOverlappingPOSTCloses(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	sid, _ := f.handshake(t)
	u := f.ts.Listener.Addr().String()
	// A POST whose body never completes keeps the data request pending.
	nc, err := net.Dial("tcp", u)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_, _ = io.WriteString(nc, "POST /engine.io/?EIO=4&transport=polling&sid="+sid+" HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n4ab")
	c := f.srv.lookup(sid)
	testutil.WaitFor(t, "pending POST", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.postBusy
	})
	if r := f.do(t, "POST", "EIO=4&transport=polling&sid="+sid, "4x"); r.status != 400 {
		t.Fatalf("overlapping POST: %d", r.status)
	}
	f.rec.wantClose(t, ReasonTransportError)
}

func TestPollingBadPayloadCloses(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"9x", "4a\x1e\x1e4b", "b!!!", "\x1e"} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, Config{})
			sid, _ := f.handshake(t)
			q := "EIO=4&transport=polling&sid=" + sid
			if r := f.do(t, "POST", q, body); r.status != 400 {
				t.Fatalf("POST %q: %d", body, r.status)
			}
			f.rec.wantClose(t, ReasonParseError)
			// The next poll learns the session is over, later ones that it is unknown.
			if r := f.do(t, "GET", q, ""); r.status != 200 || r.body != "1" {
				t.Fatalf("GET after parse error: %d %q", r.status, r.body)
			}
			if r := f.do(t, "GET", q, ""); r.status != 400 {
				t.Fatalf("second GET after parse error: %d %q", r.status, r.body)
			}
		})
	}
}

func TestPollingTooLarge(t *testing.T) {
	t.Parallel()
	big := "4" + strings.Repeat("x", 200)
	t.Run("content-length", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{MaxPayloadBytes: 100})
		sid, _ := f.handshake(t)
		if r := f.do(t, "POST", "EIO=4&transport=polling&sid="+sid, big); r.status != 413 {
			t.Fatalf("status %d", r.status)
		}
		f.rec.wantClose(t, ReasonTooLarge)
	})
	t.Run("chunked", func(t *testing.T) {
		t.Parallel()
		f := newFixture(t, Config{MaxPayloadBytes: 100})
		sid, _ := f.handshake(t)
		// An io.Reader of unknown length makes net/http send it chunked.
		req, err := http.NewRequestWithContext(t.Context(), "POST", f.url("EIO=4&transport=polling&sid="+sid),
			io.MultiReader(strings.NewReader(big[:50]), strings.NewReader(big[50:])))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 413 || req.ContentLength != 0 {
			t.Fatalf("status %d, content-length %d (want chunked)", resp.StatusCode, req.ContentLength)
		}
		f.rec.wantClose(t, ReasonTooLarge)
	})
}

func TestPollingClientClosePacket(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	sid, _ := f.handshake(t)
	if r := f.do(t, "POST", "EIO=4&transport=polling&sid="+sid, "4last\x1e1\x1e4never"); r.status != 200 {
		t.Fatalf("POST: %d", r.status)
	}
	f.rec.wantMsg(t, "last", false)
	f.rec.wantClose(t, ReasonTransportClose)
	select {
	case m := <-f.rec.msgs:
		t.Fatalf("message after close packet: %q", m.Data)
	default:
	}
}

func TestPollingPingTimeout(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{PingInterval: 50 * time.Millisecond, PingTimeout: 50 * time.Millisecond})
	sid, _ := f.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	// Answer two pings, then stop.
	for range 2 {
		if r := f.do(t, "GET", q, ""); r.body != "2" {
			t.Fatalf("GET: %q, want ping", r.body)
		}
		if r := f.do(t, "POST", q, "3"); r.status != 200 {
			t.Fatalf("pong: %d", r.status)
		}
	}
	f.rec.wantClose(t, ReasonPingTimeout)
}

func TestCORS(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{AllowedOrigins: []string{"https://app.example"}})
	r := f.do(t, "OPTIONS", "EIO=4&transport=polling", "", "Origin", "https://app.example",
		"Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type")
	if r.status != 204 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.header.Get("Access-Control-Allow-Credentials") != "true" ||
		!strings.Contains(r.header.Get("Access-Control-Allow-Methods"), "POST") ||
		r.header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Fatalf("preflight: %d %v", r.status, r.header)
	}
	r = f.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "https://app.example")
	if r.status != 200 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("GET: %d %v", r.status, r.header)
	}
	r = f.do(t, "GET", "EIO=4&transport=nope", "", "Origin", "https://app.example")
	if r.status != 400 || r.header.Get("Access-Control-Allow-Origin") != "https://app.example" {
		t.Fatalf("error response lacks CORS headers: %d %v", r.status, r.header)
	}
	r = f.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "https://evil.example")
	if r.header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatalf("foreign origin got CORS headers: %v", r.header)
	}
	if r := f.do(t, "OPTIONS", "EIO=4&transport=polling", "", "Origin", "https://evil.example"); r.status == 204 {
		t.Fatalf("foreign preflight accepted")
	}
	star := newFixture(t, Config{AllowedOrigins: []string{"*"}})
	r = star.do(t, "GET", "EIO=4&transport=polling", "", "Origin", "https://any.example")
	if r.header.Get("Access-Control-Allow-Origin") != "https://any.example" {
		t.Fatalf("wildcard: %v", r.header)
	}
}

func TestPathNotHandledByMux(t *testing.T) {
	t.Parallel()
	f := newFixture(t, Config{})
	if r := doReq(t, "GET", f.ts.URL+"/engine.io/other?EIO=4&transport=polling", ""); r.status != 404 {
		t.Fatalf("sub-path: %d", r.status)
	}
}

// TestPollingManyTinyPacketsMemory is the regression test for a memory
// amplification: a POST body was decoded into one slice of packets before
// any was delivered, so a maximum-size body of noops ("6\x1e6\x1e...", 500,000
// packets in 999,999 bytes) cost ~110 MB of allocations, and 40
// unauthenticated sessions × 5 POSTs drove the process to 1.9 GB. Packets
// are now delivered as they are decoded: such a POST allocates about its
// body. Not parallel: it reads the process's allocation counter.
func TestPollingManyTinyPacketsMemory(t *testing.T) {
	f := newFixture(t, Config{PingInterval: time.Hour})
	sid, _ := f.handshake(t)
	q := "EIO=4&transport=polling&sid=" + sid
	body := strings.Repeat("6\x1e", 499_999) + "6"
	if int64(len(body)) > DefaultMaxPayloadBytes {
		t.Fatalf("body of %d bytes is over the limit", len(body))
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const posts = 3
	for range posts {
		if r := f.do(t, "POST", q, body); r.status != 200 || r.body != "ok" {
			t.Fatalf("POST: %d %q", r.status, r.body)
		}
	}
	runtime.ReadMemStats(&after)
	// The body is read into memory once on each side of the loopback (and
	// the client's copy of the string): a few MB per POST. Decoding into a
	// slice of packets took ~40 MB more per POST.
	perPost := (after.TotalAlloc - before.TotalAlloc) / posts
	t.Logf("%d bytes allocated per POST of %d bytes", perPost, len(body))
	if perPost > 8<<20 {
		t.Fatalf("a POST of %d bytes of noops allocated %d bytes", len(body), perPost)
	}
	// The session is unharmed.
	if r := f.do(t, "POST", q, "4after"); r.status != 200 {
		t.Fatalf("POST: %d", r.status)
	}
	f.rec.wantMsg(t, "after", false)
}
