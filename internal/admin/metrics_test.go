package admin

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
)

type innerStats struct {
	Hits    uint64 `json:"hits"`
	Open    int    `json:"open" metric:"gauge"`
	Ratio   float64
	Skipped string `json:"skipped"`
	Ignored int    `json:"-"`
}

type nodeStats struct {
	Front  innerStats  `json:"front"`
	Opt    *innerStats `json:"opt,omitempty"`
	Absent *innerStats `json:"absent,omitempty"`
	Up     bool        `json:"up"`
}

var (
	sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\.)*",?)*\})? -?[0-9.eE+-]+$`)
	metaLine   = regexp.MustCompile(`^# (HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (counter|gauge|untyped))$`)
)

// TestMetrics: /metrics is valid Prometheus text, names every /stats
// number with its type, and labels per-backend gauges (escaped).
func TestMetrics(t *testing.T) {
	t.Parallel()
	var draining atomic.Bool
	draining.Store(true)
	pool := PoolFunc(func() []BackendInfo {
		return []BackendInfo{
			{ID: "b2", Address: "http://127.0.0.1:3002", Weight: 2, InFlight: 5, Tunnels: 1, Healthy: true},
			{ID: `odd"id\x`, Address: "http://127.0.0.1:3001", Weight: 1, Draining: true},
		}
	})
	stats := func() any {
		return nodeStats{Front: innerStats{Hits: 12, Open: 3, Ratio: 0.5, Skipped: "x", Ignored: 9}, Opt: &innerStats{Hits: 1}, Up: true}
	}
	srv := httptest.NewServer(New(pool, draining.Load, stats))
	defer srv.Close()
	res, body := do(t, srv, http.MethodGet, "/metrics", nil)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("%d %q", res.StatusCode, res.Header.Get("Content-Type"))
	}
	types := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(body, "\n"), "\n") {
		if strings.HasPrefix(l, "#") {
			if !metaLine.MatchString(l) {
				t.Errorf("bad comment line %q", l)
			}
			if f := strings.Fields(l); f[1] == "TYPE" {
				if _, dup := types[f[2]]; dup {
					t.Errorf("family %s declared twice", f[2])
				}
				types[f[2]] = f[3]
			}
			continue
		}
		if !sampleLine.MatchString(l) {
			t.Errorf("bad sample line %q", l)
		}
	}
	for _, want := range []string{
		"switchboard_draining 1",
		"switchboard_front_hits 12",
		"switchboard_front_open 3",
		"switchboard_front_Ratio 0.5",
		"switchboard_opt_hits 1",
		"switchboard_up 1",
		`switchboard_backend_in_flight{id="b2",address="http://127.0.0.1:3002"} 5`,
		`switchboard_backend_draining{id="odd\"id\\x",address="http://127.0.0.1:3001"} 1`,
		`switchboard_backend_healthy{id="odd\"id\\x",address="http://127.0.0.1:3001"} 0`,
		"# HELP switchboard_front_hits front.hits in /stats.",
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("missing %q in:\n%s", want, body)
		}
	}
	for name, typ := range map[string]string{
		"switchboard_front_hits": "counter", "switchboard_front_open": "gauge", "switchboard_up": "gauge",
		"switchboard_backend_in_flight": "gauge",
	} {
		if types[name] != typ {
			t.Errorf("%s is %q, want %s", name, types[name], typ)
		}
	}
	for _, absent := range []string{"skipped", "Ignored", "absent_"} {
		if strings.Contains(body, absent) {
			t.Errorf("%q should not appear", absent)
		}
	}
	// Address sorts before id: 3001 first.
	if strings.Index(body, `address="http://127.0.0.1:3001"`) > strings.Index(body, `address="http://127.0.0.1:3002"`) {
		t.Error("backends not sorted by address")
	}

	// Without stats or pool: still valid, with empty families.
	srv2 := httptest.NewServer(New(nil, nil, nil))
	defer srv2.Close()
	if res, body := do(t, srv2, http.MethodGet, "/metrics", nil); res.StatusCode != 200 || !strings.Contains(body, "switchboard_draining 0\n") {
		t.Fatalf("bare: %d %q", res.StatusCode, body)
	}
}
