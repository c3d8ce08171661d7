package proxy

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// accessLines returns the access log records logged as JSON to sink.
func accessLines(tb testing.TB, sink *testutil.LogBuffer) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(sink.String()), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			tb.Fatalf("log line %q: %v", l, err)
		}
		if m["msg"] == "request" {
			out = append(out, m)
		}
	}
	return out
}

// TestAccessLog: with AccessLog every proxied request gets one line with
// what the client got, on both fronts: a fast-path GET, a request with a
// body (net/http on either front), a WebSocket tunnel, an empty pool.
func TestAccessLog(t *testing.T) {
	bothFronts(t, func(t *testing.T) {
		sink := &testutil.LogBuffer{}
		e := newEnvLogged(t, Config{AccessLog: true}, t.Name(), slog.New(slog.NewJSONHandler(sink, nil)))
		be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusCreated)
			}
			_, _ = io.WriteString(w, "ok")
		}))
		t.Cleanup(be.Close)
		b := e.add(t, "b", be.URL, 1)

		if res, _ := e.get(t, "/a?x=1"); res.StatusCode != 200 {
			t.Fatal(res.Status)
		}
		req, _ := http.NewRequest(http.MethodPost, e.url+"/p", strings.NewReader("body"))
		if res, _ := e.do(t, req); res.StatusCode != 201 {
			t.Fatal(res.Status)
		}
		wsb := wsEchoBackend(t)
		e.reg.Remove("b")
		e.add(t, "ws", wsb.URL, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		wc, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/ws", nil, ws.Config{})
		if err != nil {
			t.Fatal(err)
		}
		_ = wc.Close()
		e.reg.Remove("ws")
		if res, _ := e.get(t, "/none"); res.StatusCode != http.StatusServiceUnavailable {
			t.Fatal(res.Status)
		}

		want := []struct {
			method, uri string
			status      float64
			backend     string
			bytes       float64
		}{
			{"GET", "/a?x=1", 200, b.Addr, 2},
			{"POST", "/p", 201, b.Addr, 2},
			{"GET", "/ws", 101, strings.TrimPrefix(wsb.URL, "http://"), 0},
			{"GET", "/none", 503, "", -1}, // the proxy's own short body
		}
		var got []map[string]any
		deadline := time.Now().Add(10 * time.Second)
		for got = accessLines(t, sink); len(got) < len(want); got = accessLines(t, sink) {
			if time.Now().After(deadline) {
				t.Fatalf("%d access lines, want %d: %v", len(got), len(want), got)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if len(got) != len(want) {
			t.Fatalf("%d access lines, want %d: %v", len(got), len(want), got)
		}
		byURI := map[any]map[string]any{}
		for _, g := range got {
			byURI[g["uri"]] = g // lines may come in any order (the tunnel's is written by another goroutine)
		}
		for i, w := range want {
			g := byURI[w.uri]
			if g["method"] != w.method || g["uri"] != w.uri || g["status"] != w.status || g["backend"] != w.backend ||
				g["client"] != "127.0.0.1" || g["level"] != "INFO" {
				t.Errorf("line %d = %v, want %+v", i, g, w)
			}
			if bytes, _ := g["bytes"].(float64); w.bytes >= 0 && bytes != w.bytes || w.bytes < 0 && bytes <= 0 {
				t.Errorf("line %d bytes %v, want %v", i, g["bytes"], w.bytes)
			}
			if d, ok := g["duration"].(float64); !ok || d <= 0 {
				t.Errorf("line %d duration %v", i, g["duration"])
			}
		}
	})
}
