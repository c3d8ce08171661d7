package connlimit

import (
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func TestCap(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	full := 0
	l := New(ln, 2, func() { full++ })
	defer l.Close()
	var clients []net.Conn
	for range 3 {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		defer c.Close()
	}
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if l.Open() != 2 || l.Max() != 2 {
		t.Fatalf("open %d max %d", l.Open(), l.Max())
	}
	// The raw socket paths still find what they need.
	if _, ok := a.(syscall.Conn); !ok {
		t.Fatal("accepted conn lost SyscallConn")
	}
	if _, ok := a.(interface{ CloseWrite() error }); !ok {
		t.Fatal("accepted conn lost CloseWrite")
	}

	third := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		third <- c
	}()
	select {
	case <-third:
		t.Fatal("a third connection was accepted at a cap of 2")
	case <-time.After(100 * time.Millisecond):
	}
	_ = a.Close()
	_ = a.Close() // a second Close frees nothing more
	c := testutil.Recv(t, third, "the third accept", 10*time.Second)
	if c == nil {
		t.Fatal("third accept failed")
	}
	defer c.Close()
	if l.Open() != 2 || l.Waits() != 1 || full != 1 {
		t.Fatalf("open %d waits %d onFull %d", l.Open(), l.Waits(), full)
	}
	_ = b.Close()
	_ = c.Close()
	if l.Open() != 0 {
		t.Fatalf("open %d after closing all", l.Open())
	}
	_ = clients
}

func TestCloseWhileWaiting(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, 1, nil)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := l.Accept()
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond) // usually waiting by now; either way Accept must fail
	_ = l.Close()
	if err := testutil.Recv(t, errc, "Accept after Close", 10*time.Second); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
	// A failed accept gives its slot back: the listener is closed, so
	// Accept fails at once rather than waiting.
	_ = a.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept on a closed listener succeeded")
	}
}

// TestLimitHTTP2: requests over HTTP/2 hold slots of the cap while they
// run; at the cap one is refused with 503 and Retry-After and counted,
// while HTTP/1.1 requests pass; a freed slot serves the next one.
func TestLimitHTTP2(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(raw, 2, nil)
	defer l.Close()
	hold, entered := make(chan struct{}), make(chan struct{}, 4)
	var release sync.Once
	srv := httptest.NewUnstartedServer(l.LimitHTTP2(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hold" {
			entered <- struct{}{}
			<-hold
		}
		_, _ = io.WriteString(w, r.Proto)
	})))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer release.Do(func() { close(hold) }) // before Close waits for the handlers, also on failure
	h2 := srv.Client()
	get := func(c *http.Client, path string) (*http.Response, string) {
		t.Helper()
		res, err := c.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		_ = res.Body.Close()
		return res, string(b)
	}
	done := make(chan string, 2)
	for range 2 {
		go func() {
			res, err := h2.Get(srv.URL + "/hold")
			if err != nil {
				done <- err.Error()
				return
			}
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			done <- string(b)
		}()
	}
	<-entered
	<-entered
	if s := l.Stats(); s.HTTP2Requests != 2 {
		t.Fatalf("HTTP/2 requests in flight = %d, want 2", s.HTTP2Requests)
	}
	res, body := get(h2, "/x")
	if res.StatusCode != http.StatusServiceUnavailable || res.Header.Get("Retry-After") != "1" || res.ProtoMajor != 2 {
		t.Fatalf("at the cap: %s %d %q, Retry-After %q", res.Proto, res.StatusCode, body, res.Header.Get("Retry-After"))
	}
	if s := l.Stats(); s.HTTP2Refused != 1 {
		t.Fatalf("refused = %d, want 1", s.HTTP2Refused)
	}
	tc := h2.Transport.(*http.Transport).TLSClientConfig.Clone()
	tc.NextProtos = []string{"http/1.1"}
	h1 := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}}
	defer h1.CloseIdleConnections()
	if res, body := get(h1, "/x"); res.StatusCode != http.StatusOK || body != "HTTP/1.1" {
		t.Fatalf("HTTP/1.1 at the cap: %d %q", res.StatusCode, body)
	}
	release.Do(func() { close(hold) })
	for range 2 {
		if got := <-done; got != "HTTP/2.0" {
			t.Fatalf("held request: %q", got)
		}
	}
	if res, body := get(h2, "/x"); res.StatusCode != http.StatusOK || body != "HTTP/2.0" {
		t.Fatalf("after the release: %d %q", res.StatusCode, body)
	}
	if s := l.Stats(); s.HTTP2Requests != 0 {
		t.Fatalf("HTTP/2 requests in flight = %d after all ended", s.HTTP2Requests)
	}
	h2.CloseIdleConnections()
}
