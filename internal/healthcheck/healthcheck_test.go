package healthcheck

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// add registers a backend for rawURL.
func add(t *testing.T, reg *backend.Registry, id, rawURL string) *backend.Backend {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	b := &backend.Backend{ID: id, URL: u, Addr: u.Host, Weight: 1, Since: time.Now()}
	reg.Add(b)
	return b
}

func newChecker(reg *backend.Registry, cfg Config) (*Checker, *testutil.LogBuffer) {
	logs := &testutil.LogBuffer{}
	return New(cfg, reg, slog.New(slog.NewTextHandler(logs, nil))), logs
}

// TestFallAndRise drives rounds by hand: Fall failures take a backend out,
// Rise successes bring it back, a healthy neighbour is never touched.
func TestFallAndRise(t *testing.T) {
	t.Parallel()
	var status atomic.Int32
	status.Store(http.StatusOK)
	var paths sync.Map
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.RequestURI(), r.Header.Get("User-Agent"))
		w.WriteHeader(int(status.Load()))
	}))
	defer flaky.Close()
	good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/elsewhere", http.StatusFound) // 3xx counts as up
	}))
	defer good.Close()
	reg := backend.NewRegistry()
	fb := add(t, reg, "flaky", flaky.URL)
	gb := add(t, reg, "good", good.URL)
	c, logs := newChecker(reg, Config{Path: "/healthz?deep=1", Fall: 3, Rise: 2, Timeout: 5 * time.Second})
	ctx := context.Background()

	c.Round(ctx)
	if ua, ok := paths.Load("/healthz?deep=1"); !ok || ua != "switchboard-healthcheck" {
		t.Fatalf("check request: %v %v", ua, ok)
	}
	status.Store(http.StatusServiceUnavailable)
	for i := range 3 {
		if !fb.Healthy() {
			t.Fatalf("down after %d failures, want 3", i)
		}
		c.Round(ctx)
	}
	if fb.Healthy() || fb.Available() {
		t.Fatal("3 failures did not take the backend out")
	}
	if !strings.Contains(logs.String(), "status 503") {
		t.Errorf("no reason logged: %s", logs)
	}
	status.Store(http.StatusNoContent)
	c.Round(ctx)
	if fb.Healthy() {
		t.Fatal("up after 1 success, want 2")
	}
	c.Round(ctx)
	if !fb.Healthy() || !fb.Available() {
		t.Fatal("2 successes did not bring the backend back")
	}
	if !gb.Healthy() {
		t.Fatal("a healthy neighbour was marked down")
	}
	// A failure streak interrupted by a success starts again.
	status.Store(http.StatusInternalServerError)
	c.Round(ctx)
	c.Round(ctx)
	status.Store(http.StatusOK)
	c.Round(ctx)
	status.Store(http.StatusInternalServerError)
	c.Round(ctx)
	c.Round(ctx)
	if !fb.Healthy() {
		t.Fatal("interrupted failures counted as consecutive")
	}
	st := c.Stats()
	if st.MarkedDown != 1 || st.MarkedUp != 1 || st.Unhealthy != 0 || st.Checks != 2*11 || st.Failed != 7 {
		t.Fatalf("stats %+v", st)
	}
}

// TestUnreachable: a refused connection and a backend that accepts but
// never answers both fail.
func TestUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	_ = ln.Close()
	release := make(chan struct{})
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	reg := backend.NewRegistry()
	rb := add(t, reg, "refused", closed)
	hb := add(t, reg, "hung", hung.URL)
	c, _ := newChecker(reg, Config{Path: "/", Fall: 1, Rise: 1, Timeout: 100 * time.Millisecond})
	c.Round(context.Background())
	if rb.Healthy() || hb.Healthy() {
		t.Fatalf("refused healthy=%v, hung healthy=%v", rb.Healthy(), hb.Healthy())
	}
}

// TestForgetsRemoved: streaks of backends that left are dropped, and a
// backend added again under the same id starts afresh.
func TestForgetsRemoved(t *testing.T) {
	t.Parallel()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	defer s.Close()
	reg := backend.NewRegistry()
	b := add(t, reg, "a", s.URL)
	c, _ := newChecker(reg, Config{Path: "/", Fall: 2})
	ctx := context.Background()
	c.Round(ctx)
	if c.tracked() != 1 {
		t.Fatalf("tracked %d", c.tracked())
	}
	reg.Remove("a")
	c.Round(ctx)
	if c.tracked() != 0 {
		t.Fatalf("tracked %d after removal", c.tracked())
	}
	b2 := add(t, reg, "a", s.URL)
	c.Round(ctx)
	if !b.Healthy() || !b2.Healthy() {
		t.Fatal("a re-added backend inherited its predecessor's failures")
	}
}

// TestBoundedConcurrency: no more than MaxConcurrent checks at once.
func TestBoundedConcurrency(t *testing.T) {
	t.Parallel()
	var cur, peak atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := cur.Add(1)
		defer cur.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond) // let checks overlap
	}))
	defer s.Close()
	reg := backend.NewRegistry()
	u, _ := url.Parse(s.URL)
	for i := range 12 {
		// Distinct ids and addresses (a registry keeps one backend per
		// address): every name resolves to the same server.
		b := &backend.Backend{ID: string(rune('a' + i)), URL: u, Addr: u.Host + "#" + string(rune('a'+i)), Since: time.Now()}
		reg.Add(b)
	}
	c, _ := newChecker(reg, Config{Path: "/", MaxConcurrent: 3})
	c.Round(context.Background())
	if p := peak.Load(); p < 1 || p > 3 {
		t.Fatalf("peak concurrency %d, want 1..3", p)
	}
	if st := c.Stats(); st.Checks != 12 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// TestRunStops: Run checks on its own and returns when ctx ends, leaving
// no goroutine behind (TestMain checks).
func TestRunStops(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer s.Close()
	reg := backend.NewRegistry()
	add(t, reg, "a", s.URL)
	c, _ := newChecker(reg, Config{Path: "/", Interval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	deadline := time.Now().Add(10 * time.Second)
	for hits.Load() < 3 {
		if time.Now().After(deadline) {
			t.Fatal("Run made no checks")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := testutil.Recv(t, done, "Run's return", 10*time.Second); err != context.Canceled {
		t.Fatalf("Run returned %v", err)
	}
}
