package app

import (
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/admin"
	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestReload: a new configuration replaces the static backends at once
// (kept ones untouched); other changed keys are reported as needing a
// restart.
func TestReload(t *testing.T) {
	t.Parallel()
	a, b := namedBackend(t, "a"), namedBackend(t, "b")
	cfg := testConfig()
	cfg.Proxy.Backends = []string{a.URL}
	logs := &testutil.LogBuffer{}
	reloads := make(chan config.Config)
	addrs := startWith(t, cfg, slog.New(slog.NewTextHandler(logs, nil)), Options{Reload: reloads}).addrs
	pool := func() []string {
		_, body := get(t, "http://"+addrs.Admin.String()+"/backends")
		var list []admin.BackendInfo
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, x := range list {
			out = append(out, x.Address)
		}
		return out
	}
	waitPool := func(want ...string) {
		t.Helper()
		deadline := time.Now().Add(wait)
		for strings.Join(pool(), ",") != strings.Join(want, ",") {
			if time.Now().After(deadline) {
				t.Fatalf("pool %v, want %v", pool(), want)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitPool(a.URL)

	next := cfg
	next.Proxy.Backends = []string{b.URL}
	reloads <- next
	waitPool(b.URL)
	if _, body := get(t, "http://"+addrs.Main.String()+"/"); body != "b" {
		t.Fatalf("after reload the proxy answered %q", body)
	}

	both := next
	both.Proxy.Backends = []string{a.URL, b.URL}
	both.Control.PingInterval = time.Second
	reloads <- both
	want := []string{a.URL, b.URL}
	if a.URL > b.URL {
		want = []string{b.URL, a.URL}
	}
	waitPool(want...)
	deadline := time.Now().Add(wait)
	for !strings.Contains(logs.String(), "need a restart") {
		if time.Now().After(deadline) {
			t.Fatalf("no restart warning: %s", logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "keys=control.ping_interval") || strings.Contains(logs.String(), "keys=proxy.backends") {
		t.Fatalf("restart warning names the wrong keys: %s", logs)
	}

	// A weight change takes effect: smooth round robin then follows 3:1
	// exactly.
	weighted := both
	weighted.Proxy.Backends = []string{a.URL + " weight=3", b.URL}
	reloads <- weighted
	deadline = time.Now().Add(wait)
	for {
		_, body := get(t, "http://"+addrs.Admin.String()+"/backends")
		if strings.Contains(body, `"weight": 3`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("weight not applied: %s", body)
		}
		time.Sleep(10 * time.Millisecond)
	}
	counts := map[string]int{}
	for range 8 {
		_, body := get(t, "http://"+addrs.Main.String()+"/")
		counts[body]++
	}
	if counts["a"] != 6 || counts["b"] != 2 {
		t.Fatalf("requests per backend with weights 3:1: %v", counts)
	}
}
