package proxy

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// holdingBackend holds every request to /hold until its context is
// cancelled (reported on cancelled) or 10 s pass; arrived gets a value when
// a held request came in. Other paths answer "ok" at once.
func holdingBackend(tb testing.TB) (url string, arrived, cancelled <-chan struct{}, conns *atomic.Int32) {
	tb.Helper()
	arr := make(chan struct{}, 4)
	can := make(chan struct{}, 4)
	conns = new(atomic.Int32)
	be := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/hold" {
			_, _ = io.WriteString(w, "ok")
			return
		}
		arr <- struct{}{}
		select {
		case <-r.Context().Done():
			can <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	be.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	be.Start()
	tb.Cleanup(be.Close)
	return be.URL, arr, can, conns
}

// TestClientGoneAbortsUpstream is the regression test for the fast path
// not noticing a client that leaves while the backend thinks (an Engine.IO
// long-poll held for up to 25 s): it kept the upstream exchange busy until
// the backend answered. Now, as on the net/http front, a client that
// closes, resets or half-closes its connection while the request waits for
// its response head makes the proxy close the upstream connection: the
// backend sees its request context cancelled. The closed connection is not
// pooled: the next request gets through on a new one.
func TestClientGoneAbortsUpstream(t *testing.T) { bothFronts(t, testClientGoneAbortsUpstream) }

func testClientGoneAbortsUpstream(t *testing.T) {
	for _, how := range []string{"close", "reset", "half-close"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			beURL, arrived, cancelled, conns := holdingBackend(t)
			e := newEnv(t, Config{})
			e.add(t, "a", beURL, 1)
			cc := e.dialSend(t, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
			wait(t, arrived, "the request at the backend")
			tc := cc.(*net.TCPConn)
			switch how {
			case "close":
				_ = tc.Close()
			case "reset":
				_ = tc.SetLinger(0)
				_ = tc.Close()
			case "half-close":
				_ = tc.CloseWrite()
			}
			testutil.Recv(t, cancelled, "the backend's request cancelled", 5*time.Second)
			if how == "half-close" {
				// Both fronts take the half-close for a cancel (as net/http
				// does) and close the connection without an answer.
				if b, err := io.ReadAll(cc); err != nil || len(b) != 0 {
					t.Fatalf("after half-close: %q %v", b, err)
				}
			}
			before := conns.Load()
			if res, body := e.get(t, "/next"); res.StatusCode != 200 || body != "ok" {
				t.Fatalf("next request: %d %q", res.StatusCode, body)
			}
			if conns.Load() == before {
				t.Fatal("the next request reused a connection: the aborted one went back to the pool")
			}
		})
	}
}

// TestPipelinedClientNotGone checks that a request followed by a pipelined
// one is not taken for abandoned while the first waits for its head: the
// second request, sent once the first reached the backend, waits unread on
// the client socket while the client-gone watcher looks at it twice, and
// both responses arrive in order.
func TestPipelinedClientNotGone(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	arrived := make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			arrived <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, r.URL.Path)
	}))
	t.Cleanup(be.Close)
	e := newEnvNamed(t, Config{}, "pipelined/fast")
	e.add(t, "a", be.URL, 1)
	watched := make(chan struct{}, 1)
	hook := func(slow int) {
		if slow > 0 {
			select {
			case watched <- struct{}{}:
			default:
			}
		}
	}
	e.srv.testHookWatched.Store(&hook)
	cc := e.dialSend(t, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	wait(t, arrived, "the slow request at the backend")
	if _, err := io.WriteString(cc, "GET /second HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// The first pass may predate the second request; the second does not.
	wait(t, watched, "a watcher pass over the slow request")
	wait(t, watched, "a second watcher pass over the slow request")
	close(release)
	br := bufio.NewReader(cc)
	for _, want := range []string{"/slow", "/second"} {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", want, err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || string(b) != want {
			t.Fatalf("%s: %d %q %v", want, res.StatusCode, b, err)
		}
	}
}

// BenchmarkWatchUpstream measures what the client-gone watch adds to every
// fast-path request: publishing the wait and ending it.
func BenchmarkWatchUpstream(b *testing.B) {
	var fc fastConn
	c := &upConn{}
	now := time.Now().UnixNano()
	b.ReportAllocs()
	for b.Loop() {
		fc.watchUpstream(c, now)
		if !fc.unwatchUpstream(c) {
			b.Fatal("lost the wait")
		}
	}
}

// TestClientGoneDuringStream: a client that leaves an idle event stream
// (the backend sent one event and waits for the next) makes the proxy
// close the upstream connection, on both fronts: the backend sees its
// request context cancelled instead of holding the stream until its next
// write.
func TestClientGoneDuringStream(t *testing.T) { bothFronts(t, testClientGoneDuringStream) }

func testClientGoneDuringStream(t *testing.T) {
	cancelled := make(chan struct{}, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		_, _ = io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(be.Close)
	e := newEnv(t, Config{})
	e.add(t, "a", be.URL, 1)
	cc := e.dialSend(t, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
	br := bufio.NewReader(cc)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "data: first\n" {
		t.Fatalf("first event: %q %v", line, err)
	}
	_ = cc.Close()
	testutil.Recv(t, cancelled, "the backend's stream cancelled", 5*time.Second)
}
