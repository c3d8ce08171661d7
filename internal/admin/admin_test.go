package admin

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func do(t *testing.T, srv *httptest.Server, method, path string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestHealthzFlipsWhenDraining(t *testing.T) {
	t.Parallel()
	var draining atomic.Bool
	srv := httptest.NewServer(New(nil, draining.Load, nil))
	defer srv.Close()
	resp, body := do(t, srv, http.MethodGet, "/healthz", nil)
	if resp.StatusCode != http.StatusOK || body != "ok\n" {
		t.Fatalf("healthz = %d %q, want 200 ok", resp.StatusCode, body)
	}
	draining.Store(true)
	resp, body = do(t, srv, http.MethodGet, "/healthz", nil)
	if resp.StatusCode != http.StatusServiceUnavailable || body != "draining\n" {
		t.Fatalf("healthz = %d %q, want 503 draining", resp.StatusCode, body)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
}

func TestBackendsJSON(t *testing.T) {
	t.Parallel()
	since := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	pool := PoolFunc(func() []BackendInfo {
		return []BackendInfo{
			{ID: "b2", Address: "http://127.0.0.1:3002", Weight: 2, Session: "s2", Since: since, InFlight: 3, Tunnels: 1},
			{ID: "b1", Address: "http://127.0.0.1:3001", URL: "https://a.example", Weight: 1, Since: since, Static: true, Draining: true},
		}
	})
	srv := httptest.NewServer(New(pool, nil, nil))
	defer srv.Close()
	resp, body := do(t, srv, http.MethodGet, "/backends", nil)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("backends = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decode %q: %v", body, err)
	}
	if len(got) != 2 || got[0]["id"] != "b1" || got[1]["id"] != "b2" {
		t.Fatalf("got %v, want b1 then b2 (sorted by address)", got)
	}
	for _, k := range []string{"id", "address", "weight", "since", "in_flight", "tunnels", "draining", "static"} {
		if _, ok := got[1][k]; !ok {
			t.Errorf("field %q missing in %v", k, got[1])
		}
	}
	if got[1]["session"] != "s2" || got[1]["in_flight"] != 3.0 || got[0]["url"] != "https://a.example" || got[0]["static"] != true {
		t.Errorf("unexpected values: %v", got)
	}
}

func TestEmptyPoolIsEmptyArray(t *testing.T) {
	t.Parallel()
	for _, pool := range []Pool{nil, PoolFunc(func() []BackendInfo { return nil })} {
		srv := httptest.NewServer(New(pool, nil, nil))
		_, body := do(t, srv, http.MethodGet, "/backends", nil)
		srv.Close()
		if strings.TrimSpace(body) != "[]" {
			t.Errorf("body = %q, want []", body)
		}
	}
}

func TestReadOnlyAndLimits(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(nil, nil, nil))
	t.Cleanup(srv.Close) // after the parallel subtests
	tests := []struct {
		name   string
		method string
		path   string
		body   io.Reader
		want   int
	}{
		{name: "post", method: http.MethodPost, path: "/backends", want: http.StatusMethodNotAllowed},
		{name: "delete", method: http.MethodDelete, path: "/healthz", want: http.StatusMethodNotAllowed},
		{name: "head", method: http.MethodHead, path: "/healthz", want: http.StatusOK},
		{name: "unknown path", method: http.MethodGet, path: "/nope", want: http.StatusNotFound},
		{name: "index", method: http.MethodGet, path: "/", want: http.StatusOK},
		{name: "large body", method: http.MethodGet, path: "/healthz", body: strings.NewReader(strings.Repeat("x", 4096)), want: http.StatusRequestEntityTooLarge},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			resp, _ := do(t, srv, tc.method, tc.path, tc.body)
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %d, want %d", tc.method, tc.path, resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q", resp.Header.Get("Allow"))
			}
		})
	}
}

func TestStatsJSON(t *testing.T) {
	for _, c := range []struct {
		stats func() any
		want  string
	}{
		{nil, "{}"},
		{func() any { return nil }, "{}"},
		{func() any { return map[string]int{"routed": 3} }, `{"routed":3}`},
	} {
		srv := httptest.NewServer(New(nil, nil, c.stats))
		res, body := do(t, srv, http.MethodGet, "/stats", nil)
		srv.Close()
		var got, want any
		if err := json.Unmarshal([]byte(body), &got); err != nil || json.Unmarshal([]byte(c.want), &want) != nil {
			t.Fatalf("body %q: %v", body, err)
		}
		if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || !reflect.DeepEqual(got, want) {
			t.Fatalf("GET /stats: %d %s %q, want %s", res.StatusCode, res.Header.Get("Content-Type"), body, c.want)
		}
	}
}
