package eio

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

const waitFor = 10 * time.Second

// recorder is a Handler that reports everything on channels.
type recorder struct {
	conns  chan *Conn
	msgs   chan Message
	closes chan string
	// block, if set, is received from before each OnMessage returns.
	block chan struct{}
	mu    sync.Mutex
	n     int
}

func newRecorder() *recorder {
	return &recorder{conns: make(chan *Conn, 64), msgs: make(chan Message, 4096), closes: make(chan string, 64)}
}

func (r *recorder) OnMessage(c *Conn, m Message) {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
	r.msgs <- Message{Data: bytes.Clone(m.Data), Binary: m.Binary}
	if r.block != nil {
		<-r.block
	}
}

func (r *recorder) OnClose(c *Conn, reason string) { r.closes <- reason }

func (r *recorder) accept(c *Conn) Handler {
	r.conns <- c
	return r
}

func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testutil.Recv(tb, ch, what, waitFor)
}

func (r *recorder) wantMsg(tb testing.TB, data string, binary bool) {
	tb.Helper()
	m := recv(tb, r.msgs, "message "+data)
	if string(m.Data) != data || m.Binary != binary {
		tb.Fatalf("message = %q binary=%v, want %q binary=%v", m.Data, m.Binary, data, binary)
	}
}

func (r *recorder) wantClose(tb testing.TB, reason string) {
	tb.Helper()
	if got := recv(tb, r.closes, "close "+reason); got != reason {
		tb.Fatalf("close reason = %q, want %q", got, reason)
	}
}

// fixture is an engine mounted at /engine.io/ on a loopback server.
type fixture struct {
	srv *Server
	ts  *httptest.Server
	rec *recorder
}

func newFixture(tb testing.TB, cfg Config) *fixture {
	tb.Helper()
	return newFixtureTLS(tb, cfg, false)
}

// newFixtureTLS is newFixture served over TLS when secure (the client
// trusts f.ts.Certificate()).
func newFixtureTLS(tb testing.TB, cfg Config, secure bool) *fixture {
	tb.Helper()
	f := &fixture{rec: newRecorder()}
	f.srv = NewServer(cfg, nil, f.rec.accept)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/{$}", f.srv)
	f.ts = httptest.NewUnstartedServer(mux)
	if secure {
		f.ts.StartTLS()
	} else {
		f.ts.Start()
	}
	tb.Cleanup(func() {
		f.srv.Close()
		f.ts.Close()
	})
	return f
}

func (f *fixture) url(query string) string { return f.ts.URL + "/engine.io/?" + query }

type response struct {
	status int
	header http.Header
	body   string
}

func (f *fixture) do(tb testing.TB, method, query, body string, hdr ...string) response {
	tb.Helper()
	return doReq(tb, method, f.url(query), body, hdr...)
}

func doReq(tb testing.TB, method, u, body string, hdr ...string) response {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		tb.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// handshake opens a polling session and returns its sid.
func (f *fixture) handshake(tb testing.TB) (sid string, c *Conn) {
	tb.Helper()
	r := f.do(tb, "GET", "EIO=4&transport=polling", "")
	if r.status != 200 || !strings.HasPrefix(r.body, `0{"sid":"`) {
		tb.Fatalf("handshake: %d %q", r.status, r.body)
	}
	sid = r.body[len(`0{"sid":"`):]
	sid = sid[:strings.IndexByte(sid, '"')]
	return sid, recv(tb, f.rec.conns, "accept")
}

// dialWS opens a raw WebSocket to the engine.
func (f *fixture) dialWS(tb testing.TB, query string, hdr http.Header) *ws.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	c, err := ws.Dial(ctx, f.url(query), hdr, ws.Config{})
	if err != nil {
		tb.Fatalf("ws dial: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func readWS(tb testing.TB, c *ws.Conn) (int, string) {
	tb.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	op, p, err := c.ReadMessage()
	if err != nil {
		tb.Fatalf("ws read: %v", err)
	}
	return op, string(p)
}

func wantWS(tb testing.TB, c *ws.Conn, op int, msg string) {
	tb.Helper()
	gotOp, got := readWS(tb, c)
	if gotOp != op || got != msg {
		tb.Fatalf("ws read = (%d, %q), want (%d, %q)", gotOp, got, op, msg)
	}
}

func writeWS(tb testing.TB, c *ws.Conn, op int, msg string) {
	tb.Helper()
	if err := c.WriteMessage(op, []byte(msg)); err != nil {
		tb.Fatalf("ws write: %v", err)
	}
}
