package tracker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// rawSession opens an Engine.IO WebSocket session on the tracker by hand
// (no Socket.IO client: it sends whatever the test writes) and reads the
// open packet.
func rawSession(t *testing.T, e *env) *ws.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	u := "ws" + strings.TrimPrefix(e.ts.URL, "http") + e.tr.Path() + "/?EIO=4&transport=websocket"
	c, err := ws.Dial(ctx, u, nil, ws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if _, p, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(p), "0{") {
		t.Fatalf("open packet %q: %v", p, err)
	}
	return c
}

func writeAll(t *testing.T, c *ws.Conn, msgs ...string) {
	t.Helper()
	for _, m := range msgs {
		if err := c.WriteMessage(ws.OpText, []byte(m)); err != nil {
			t.Fatalf("write %q: %v", m, err)
		}
	}
}

// readUntil reads messages until one starts with prefix.
func readUntil(t *testing.T, c *ws.Conn, prefix string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read, waiting for %q: %v", prefix, err)
		}
		if strings.HasPrefix(string(p), prefix) {
			return
		}
	}
}

// readToEnd reads messages until the connection ends and returns them; a
// session the server does not close fails the test (the deadline only
// guards against a hang).
func readToEnd(t *testing.T, c *ws.Conn) []string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(waitFor))
	var got []string
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			if strings.Contains(err.Error(), "timeout") {
				t.Fatalf("session still open after %q", got)
			}
			return got
		}
		got = append(got, string(p))
	}
}

// TestLeaveClosesSession: a client that leaves "/" (DISCONNECT) and
// CONNECTs again on the same Engine.IO session gets neither a new event
// bucket nor another copy of the list: its session ends with its socket,
// before the second CONNECT is read.
func TestLeaveClosesSession(t *testing.T) {
	t.Parallel()
	e := startTracker(t, Config{EventRate: 5, EventBurst: 10}, nil, true)
	c := rawSession(t, e)
	writeAll(t, c, "40")
	readUntil(t, c, `42["servers"`)
	// 9 events: with the CONNECT, the whole burst of 10.
	for range 9 {
		writeAll(t, c, `42["spam",1]`)
	}
	writeAll(t, c, "41", "40", `42["spam",2]`)
	closedUnanswered(t, e, c, "second CONNECT on the session")
	if s := e.tr.Stats(); s.UnknownEvents != 9 || s.Floods != 0 || s.Clients != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// closedUnanswered reads c to its end, failing t if a CONNECT (what) was
// answered, and waits for the tracker to count the session closed.
func closedUnanswered(t *testing.T, e *env, c *ws.Conn, what string) {
	t.Helper()
	for _, m := range readToEnd(t, c) {
		if strings.HasPrefix(m, "40") || strings.HasPrefix(m, `42["servers"`) {
			t.Fatalf("%s answered: %q", what, m)
		}
	}
	testutil.WaitFor(t, "the session to close", func() bool { return e.tr.Stats().Sessions == 0 })
}

// TestFloodClosesSession: a client over the event rate gets DISCONNECT;
// a CONNECT it sends after that on the same Engine.IO session is not
// answered: the session is closed.
func TestFloodClosesSession(t *testing.T) {
	t.Parallel()
	e := startTracker(t, Config{EventRate: 5, EventBurst: 10}, nil, true)
	c := rawSession(t, e)
	writeAll(t, c, "40")
	readUntil(t, c, `42["servers"`)
	for range 30 {
		writeAll(t, c, `42["spam",1]`)
	}
	readUntil(t, c, "41")                       // DISCONNECT
	_ = c.WriteMessage(ws.OpText, []byte("40")) // the session may be gone already
	closedUnanswered(t, e, c, "CONNECT after the flood")
	// 10 tokens: the CONNECT and 9 events; the 10th event is the flood.
	if s := e.tr.Stats(); s.Floods != 1 || s.UnknownEvents != 10 || s.Clients != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// TestEndedSessionsExpire: a session whose socket left is remembered
// until sio must have closed it (2×ConnectTimeout), then forgotten, so the
// table does not grow with every client that ever left.
func TestEndedSessionsExpire(t *testing.T) {
	t.Parallel()
	tr, err := New(Config{ConnectTimeout: time.Second}, backend.NewRegistry(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	now := time.Unix(1000, 0)
	tr.now = func() time.Time { return now }
	tr.markEnded("a")
	tr.markEnded("a")
	now = now.Add(time.Second)
	tr.markEnded("b")
	if !tr.hasEnded("a") || !tr.hasEnded("b") || tr.hasEnded("c") {
		t.Fatal("ended sessions not remembered")
	}
	now = now.Add(time.Second) // a's 2s are up
	if tr.hasEnded("a") || !tr.hasEnded("b") {
		t.Fatal("a not forgotten, or b forgotten early")
	}
	now = now.Add(time.Second)
	if tr.hasEnded("b") || len(tr.ended) != 0 || len(tr.endQ) != 0 {
		t.Fatalf("left: %v %v", tr.ended, tr.endQ)
	}
}
