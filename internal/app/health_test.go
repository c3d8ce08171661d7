package app

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/admin"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestHealthChecks: with --proxy-health-path, a static backend whose health
// path fails leaves the rotation (admin /backends says healthy:false, no
// proxied request reaches it) and comes back once it passes again.
func TestHealthChecks(t *testing.T) {
	t.Parallel()
	var sick atomic.Bool
	var sickHits atomic.Int64
	backendFor := func(name string, healthy func() bool, hits *atomic.Int64) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/healthz" {
				if !healthy() {
					w.WriteHeader(http.StatusServiceUnavailable)
				}
				return
			}
			if hits != nil {
				hits.Add(1)
			}
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	good := backendFor("good", func() bool { return true }, nil)
	bad := backendFor("bad", func() bool { return !sick.Load() }, &sickHits)

	cfg := testConfig()
	cfg.Proxy.Backends = []string{good.URL, bad.URL}
	cfg.Proxy.HealthPath = "/healthz"
	cfg.Proxy.HealthInterval = 250 * time.Millisecond
	cfg.Proxy.HealthTimeout = 250 * time.Millisecond
	cfg.Proxy.HealthFall, cfg.Proxy.HealthRise = 2, 2
	r := start(t, cfg, nil)
	base := "http://" + r.addrs.Main.String()
	adminURL := "http://" + r.addrs.Admin.String()

	healthyOf := func(addr string) bool {
		_, body := get(t, adminURL+"/backends")
		var list []admin.BackendInfo
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		for _, b := range list {
			if b.Address == addr {
				return b.Healthy
			}
		}
		t.Fatalf("%s not in %s", addr, body)
		return false
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timeout waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// Both healthy: round robin reaches both.
	seen := map[string]bool{}
	for range 4 {
		_, body := get(t, base+"/x")
		seen[body] = true
	}
	if !seen["good"] || !seen["bad"] {
		t.Fatalf("healthy pool answered by %v", seen)
	}

	sick.Store(true)
	waitFor("the failing backend marked unhealthy", func() bool { return !healthyOf(bad.URL) })
	before := sickHits.Load()
	for range 10 {
		if code, body := get(t, base+"/x"); code != http.StatusOK || body != "good" {
			t.Fatalf("with one backend unhealthy: %d %q", code, body)
		}
	}
	if n := sickHits.Load() - before; n != 0 {
		t.Fatalf("the unhealthy backend got %d requests", n)
	}
	if !healthyOf(good.URL) {
		t.Fatal("the good backend was marked unhealthy")
	}

	sick.Store(false)
	waitFor("the backend back in rotation", func() bool { return healthyOf(bad.URL) })
	waitFor("a request reaching it again", func() bool {
		_, body := get(t, base+"/x")
		return body == "bad"
	})

	_, body := get(t, adminURL+"/stats")
	var stats struct {
		Health *struct {
			MarkedDown uint64 `json:"marked_down"`
			MarkedUp   uint64 `json:"marked_up"`
			Checks     uint64 `json:"checks"`
		} `json:"health"`
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil || stats.Health == nil ||
		stats.Health.MarkedDown != 1 || stats.Health.MarkedUp != 1 || stats.Health.Checks == 0 {
		t.Fatalf("stats: %s (%v)", body, err)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// TestAccessLogWired: log.requests turns the proxy's access log on.
func TestAccessLogWired(t *testing.T) {
	t.Parallel()
	be := namedBackend(t, "ok")
	cfg := testConfig()
	cfg.Proxy.Backends = []string{be.URL}
	cfg.Log.Requests = true
	logs := &testutil.LogBuffer{}
	addrs := startWith(t, cfg, slog.New(slog.NewTextHandler(logs, nil)), Options{}).addrs
	if code, _ := get(t, "http://"+addrs.Main.String()+"/hello?x=1"); code != 200 {
		t.Fatal(code)
	}
	deadline := time.Now().Add(wait)
	for !strings.Contains(logs.String(), `msg=request`) {
		if time.Now().After(deadline) {
			t.Fatalf("no access log line: %s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if l := logs.String(); !strings.Contains(l, `uri="/hello?x=1"`) || !strings.Contains(l, "status=200") {
		t.Fatalf("access line: %s", l)
	}
}
