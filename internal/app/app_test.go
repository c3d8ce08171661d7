package app

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/admin"
	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// wait is the generous bound on anything the tests wait for; it is a
// deadlock guard, not a timing assertion.
const wait = 10 * time.Second

func testConfig() config.Config {
	c := config.Default()
	c.Listen.Port = 0
	c.Admin.Addr = "127.0.0.1:0"
	c.Shutdown.DrainDelay = 0
	return c
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// running is one app.Run in the background.
type running struct {
	addrs  Addrs
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg config.Config, parts *Parts) *running {
	t.Helper()
	return startWith(t, cfg, testLogger(t), Options{Parts: parts})
}

// startWith is start with a logger and options of the test's own (Ready
// is set here).
func startWith(t *testing.T, cfg config.Config, logger *slog.Logger, opts Options) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	r := &running{cancel: cancel, done: make(chan error, 1)}
	opts.Ready = func(a Addrs) { ready <- a }
	go func() {
		r.done <- RunWith(ctx, cfg, logger, opts)
	}()
	select {
	case r.addrs = <-ready:
	case err := <-r.done:
		cancel()
		t.Fatalf("Run returned before ready: %v", err)
	case <-time.After(wait):
		t.Fatal("Run not ready")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(wait):
			t.Error("Run did not return at cleanup")
		}
	})
	return r
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		r.done <- err // for cleanup
		return err
	case <-time.After(wait):
		t.Fatal("Run did not return after cancel")
		return nil
	}
}

// namedBackend is a backend answering every request with its name.
func namedBackend(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: wait}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestDefaultWiringServesAndStops(t *testing.T) {
	t.Parallel()
	r := start(t, testConfig(), nil)
	main := "http://" + r.addrs.Main.String()
	if code, body := get(t, main+"/anything"); code != http.StatusServiceUnavailable || !strings.Contains(body, "no backend") {
		t.Errorf("proxied path = %d %q, want 503 no backend", code, body)
	}
	if code, body := get(t, main+"/list/?EIO=4&transport=polling"); code != http.StatusOK || !strings.HasPrefix(body, `0{"sid":`) {
		t.Errorf("control path handshake = %d %q, want 200 and an Engine.IO open packet", code, body)
	}
	if code, body := get(t, "http://"+r.addrs.Admin.String()+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("healthz = %d %q", code, body)
	}
	if code, body := get(t, "http://"+r.addrs.Admin.String()+"/backends"); code != http.StatusOK || strings.TrimSpace(body) != "[]" {
		t.Errorf("backends = %d %q", code, body)
	}
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	c := &http.Client{Timeout: wait}
	if _, err := c.Get(main + "/"); err == nil {
		t.Error("main listener still accepts after Run returned")
	}
}

func TestRouterDispatch(t *testing.T) {
	t.Parallel()
	tag := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, name) })
	}
	parts := Parts{Control: tag("control"), Tracker: tag("tracker"), Message: tag("message"), Proxy: tag("proxy")}
	tests := []struct {
		name   string
		modify func(c *config.Config)
		path   string
		want   string
		code   int
	}{
		{name: "control", path: "/list", want: "control"},
		{name: "control slash", path: "/list/?EIO=4&transport=polling", want: "control"},
		{name: "control prefix is proxied", path: "/list/x", want: "proxy"},
		{name: "control lookalike is proxied", path: "/listing", want: "proxy"},
		{name: "tracker", path: "/tracker/?EIO=4", want: "tracker"},
		{name: "message", path: "/message?to=alif", want: "message"},
		{name: "message slash is proxied", path: "/message/", want: "proxy"},
		{name: "root", path: "/", want: "proxy"},
		{name: "custom control path", modify: func(c *config.Config) { c.Control.Path = "/hub" }, path: "/hub/", want: "control"},
		{name: "old control path proxied", modify: func(c *config.Config) { c.Control.Path = "/hub" }, path: "/list/", want: "proxy"},
		{name: "message disabled", modify: func(c *config.Config) { c.Message.Disabled = true }, path: "/message", want: "proxy"},
		{name: "tracker disabled", modify: func(c *config.Config) { c.Tracker.Disabled = true }, path: "/tracker/", want: "proxy"},
		{name: "tracker only", modify: func(c *config.Config) { c.Proxy.TrackerOnly = true }, path: "/app", want: "tracker-only", code: http.StatusNotFound},
		{name: "tracker only keeps channel", modify: func(c *config.Config) { c.Proxy.TrackerOnly = true }, path: "/list/", want: "control"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			if tc.modify != nil {
				tc.modify(&cfg)
			}
			r := start(t, cfg, &parts)
			code, body := get(t, "http://"+r.addrs.Main.String()+tc.path)
			if tc.code == 0 {
				tc.code = http.StatusOK
			}
			if code != tc.code || !strings.Contains(body, tc.want) {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, code, body, tc.code, tc.want)
			}
		})
	}
}

// TestShutdownOrder checks STYLE §3: /healthz turns 503 first, in-flight
// requests finish, then the hooks run in order, and the admin listener
// answers 503 until the end.
func TestShutdownOrder(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		steps []string
	)
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		steps = append(steps, s)
	}
	inHandler, release := make(chan struct{}), make(chan struct{})
	inTunnels, releaseTunnels := make(chan struct{}), make(chan struct{})
	runnerDone, inQuiesce := make(chan struct{}), make(chan struct{})
	parts := &Parts{
		Proxy: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(inHandler)
			<-release
			record("request finished")
			_, _ = io.WriteString(w, "done")
		}),
		Pool: admin.PoolFunc(func() []admin.BackendInfo {
			return []admin.BackendInfo{{ID: "b1", Address: "http://127.0.0.1:1", Weight: 1}}
		}),
		Runners: []func(context.Context) error{func(ctx context.Context) error {
			<-ctx.Done()
			record("runner stopped")
			close(runnerDone)
			return ctx.Err()
		}},
		Quiesce: func(context.Context) error { record("quiesce"); close(inQuiesce); return nil },
		CloseTunnels: func(context.Context) error {
			record("close tunnels")
			close(inTunnels)
			<-releaseTunnels
			return nil
		},
		CloseSessions: func(context.Context) error { record("close sessions"); return nil },
		CloseEngine:   func(context.Context) error { record("close engine"); return errors.New("engine hiccup") },
	}
	cfg := testConfig()
	cfg.Shutdown.DrainDelay = time.Millisecond
	r := start(t, cfg, parts)
	adminURL := "http://" + r.addrs.Admin.String()

	reqDone := make(chan string, 1)
	go func() {
		resp, err := http.Get("http://" + r.addrs.Main.String() + "/slow")
		if err != nil {
			reqDone <- "error: " + err.Error()
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		reqDone <- string(b)
	}()
	<-inHandler
	r.cancel()
	// Quiesce runs after draining was marked and before Shutdown: the
	// request is still in flight, /healthz must say 503.
	select {
	case <-inQuiesce:
	case <-time.After(wait):
		t.Fatal("Quiesce never called")
	}
	if code, body := get(t, adminURL+"/healthz"); code != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("healthz while draining = %d %q", code, body)
	}
	close(release)
	select {
	case body := <-reqDone:
		if body != "done" {
			t.Fatalf("in-flight request = %q, want it finished", body)
		}
	case <-time.After(wait):
		t.Fatal("in-flight request never finished")
	}
	select {
	case <-inTunnels:
	case <-time.After(wait):
		t.Fatal("CloseTunnels never called")
	}
	// Still draining and still answering while tunnels close.
	if code, body := get(t, adminURL+"/healthz"); code != http.StatusServiceUnavailable || body != "draining\n" {
		t.Errorf("healthz during tunnel close = %d %q", code, body)
	}
	if code, body := get(t, adminURL+"/backends"); code != http.StatusOK || !strings.Contains(body, `"b1"`) {
		t.Errorf("backends during shutdown = %d %q", code, body)
	}
	close(releaseTunnels)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v (a hook's error is logged, not returned)", err)
	}
	<-runnerDone
	want := []string{"quiesce", "request finished", "close tunnels", "close sessions", "close engine", "runner stopped"}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(steps, want) {
		t.Fatalf("steps = %q, want %q", steps, want)
	}
}

// TestShutdownBounded: a request that never finishes is cut off after
// Shutdown.Timeout and Run still returns.
func TestShutdownBounded(t *testing.T) {
	t.Parallel()
	inHandler := make(chan struct{})
	var tunnelsCtxDone bool
	parts := &Parts{
		Proxy: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			close(inHandler)
			<-r.Context().Done() // only the forced close ends it
		}),
		CloseTunnels: func(ctx context.Context) error { tunnelsCtxDone = ctx.Err() != nil; return nil },
	}
	cfg := testConfig()
	cfg.Shutdown.Timeout = 50 * time.Millisecond
	r := start(t, cfg, parts)
	reqDone := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + r.addrs.Main.String() + "/stuck")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		reqDone <- err
	}()
	<-inHandler
	if err := r.stop(t); err != nil {
		t.Fatalf("Run = %v", err)
	}
	select {
	case err := <-reqDone:
		if err == nil {
			t.Error("stuck request got a complete response; want it cut off")
		}
	case <-time.After(wait):
		t.Fatal("stuck request never ended")
	}
	if !tunnelsCtxDone {
		t.Error("CloseTunnels got a live ctx after the timeout expired; want an expired one")
	}
}

func TestRunnerErrorStopsNode(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	fail := make(chan struct{})
	var closed sync.WaitGroup
	closed.Add(1)
	parts := &Parts{
		Runners:       []func(context.Context) error{func(ctx context.Context) error { <-fail; return boom }},
		CloseSessions: func(context.Context) error { closed.Done(); return nil },
	}
	r := start(t, testConfig(), parts)
	close(fail)
	select {
	case err := <-r.done:
		r.done <- err
		if !errors.Is(err, boom) {
			t.Fatalf("Run = %v, want boom", err)
		}
	case <-time.After(wait):
		t.Fatal("Run did not return after a runner failed")
	}
	closed.Wait() // the shutdown sequence ran
}

func TestListenErrors(t *testing.T) {
	t.Parallel()
	r := start(t, testConfig(), &Parts{})
	cfg := testConfig()
	cfg.Admin.Addr = r.addrs.Main.String() // taken
	err := RunWith(t.Context(), cfg, testLogger(t), Options{Parts: &Parts{}})
	if err == nil || !strings.Contains(err.Error(), "listen admin") {
		t.Fatalf("Run = %v, want a listen admin error", err)
	}
	cfg = testConfig()
	cfg.Listen.IP = "192.0.2.1" // TEST-NET-1: not on this host
	if err := RunWith(t.Context(), cfg, testLogger(t), Options{Parts: &Parts{}}); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Fatalf("Run = %v, want a listen error", err)
	}
}

func TestAdminDisabled(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.Admin.Disabled = true
	r := start(t, cfg, nil)
	if r.addrs.Admin != nil {
		t.Errorf("admin addr = %v, want nil", r.addrs.Admin)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestStaticBackendThroughProxy runs the default wiring with a static
// backend: requests are proxied, and /backends lists it.
func TestStaticBackendThroughProxy(t *testing.T) {
	t.Parallel()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "hello from "+r.URL.Path)
	}))
	t.Cleanup(be.Close)
	cfg := testConfig()
	cfg.Proxy.Backends = []string{be.URL}
	r := start(t, cfg, nil)
	if code, body := get(t, "http://"+r.addrs.Main.String()+"/hi"); code != http.StatusOK || body != "hello from /hi" {
		t.Errorf("proxied GET = %d %q", code, body)
	}
	code, body := get(t, "http://"+r.addrs.Admin.String()+"/backends")
	var list []admin.BackendInfo
	if err := json.Unmarshal([]byte(body), &list); err != nil || code != http.StatusOK {
		t.Fatalf("backends = %d %q: %v", code, body, err)
	}
	if len(list) != 1 || list[0].Address != be.URL || !list[0].Static || list[0].Weight != 1 {
		t.Errorf("backends = %+v", list)
	}
	// /stats: the proxy's, the channel's, the router's and the tracker's counters.
	code, body = get(t, "http://"+r.addrs.Admin.String()+"/stats")
	var stats struct {
		Proxy *struct {
			Unavailable *uint64 `json:"unavailable"`
		} `json:"proxy"`
		Channel *struct {
			BatchesIn *uint64 `json:"batches_in"`
		} `json:"channel"`
		Messages *struct {
			Routed   *uint64 `json:"routed"`
			Sessions *int    `json:"sessions"`
		} `json:"messages"`
		Tracker *struct {
			Servers *int `json:"servers"`
		} `json:"tracker"`
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil || code != http.StatusOK {
		t.Fatalf("stats = %d %q: %v", code, body, err)
	}
	if px, ch, m, tr := stats.Proxy, stats.Channel, stats.Messages, stats.Tracker; px == nil || px.Unavailable == nil || ch == nil || ch.BatchesIn == nil || m == nil || m.Routed == nil || *m.Routed != 0 || m.Sessions == nil || tr == nil || tr.Servers == nil {
		t.Errorf("stats = %s", body)
	}
	// /metrics: the same counters in the Prometheus format, typed, and
	// the backend's gauges.
	code, body = get(t, "http://"+r.addrs.Admin.String()+"/metrics")
	for _, want := range []string{
		"# TYPE switchboard_proxy_tunnels gauge\n",
		"# TYPE switchboard_proxy_retries counter\n",
		"# TYPE switchboard_listener_open gauge\n",
		"switchboard_messages_routed 0\n",
		`switchboard_backend_weight{id="static:` + strings.TrimPrefix(be.URL, "http://") + `",address="` + be.URL + `"} 1` + "\n",
	} {
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("metrics (%d) lack %q:\n%s", code, want, body)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestOffIfZero: control.read_coalesce 0 (off) must reach eio as a
// negative period, since eio's zero takes its own default.
func TestOffIfZero(t *testing.T) {
	if offIfZero(0) >= 0 || offIfZero(time.Millisecond) != time.Millisecond {
		t.Fatalf("offIfZero(0) = %v, offIfZero(1ms) = %v", offIfZero(0), offIfZero(time.Millisecond))
	}
}
