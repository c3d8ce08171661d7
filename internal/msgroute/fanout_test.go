package msgroute_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/msgroute"
	"github.com/switchboard-lb/switchboard/internal/proxy"
)

// TestFanoutBounds: a message without a recipient goes to every backend
// through the real proxy. A backend that does not answer within
// FanoutTimeout is reported as 504: the proxy aborts that exchange with
// http.ErrAbortHandler, which used to crash the process from the fan-out's
// goroutine. A reply over MaxReplyBytes is cut and marked.
func TestFanoutBounds(t *testing.T) {
	release := make(chan struct{})
	backends := map[string]http.HandlerFunc{
		"ok": func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("fine")) },
		"big": func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(strings.Repeat("b", 100)))
		},
		"hung": func(w http.ResponseWriter, r *http.Request) {
			select { // answers only when the test ends
			case <-release:
			case <-r.Context().Done():
			}
		},
	}
	reg := backend.NewRegistry()
	for id, h := range backends {
		s := httptest.NewServer(h)
		t.Cleanup(s.Close)
		u, _ := url.Parse(s.URL)
		reg.Add(&backend.Backend{ID: id, URL: u, Addr: u.Host, Weight: 1, Since: time.Now()})
	}
	t.Cleanup(func() { close(release) })
	p, err := proxy.New(proxy.Config{}, reg, balance.NewSmoothWRR(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	route := msgroute.New(msgroute.Config{FanoutTimeout: 300 * time.Millisecond, MaxReplyBytes: 10}, reg, nil, p, nil)
	front := httptest.NewServer(route)
	t.Cleanup(front.Close)

	res, err := http.Post(front.URL+"/message", "application/json", strings.NewReader(`{"text":"all"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var sum struct {
		OK       bool `json:"ok"`
		Backends []struct {
			ID        string `json:"id"`
			Status    int    `json:"status"`
			Body      string `json:"body"`
			Truncated bool   `json:"truncated"`
		} `json:"backends"`
	}
	if err := json.NewDecoder(res.Body).Decode(&sum); err != nil || res.StatusCode != 200 {
		t.Fatalf("fan-out: %d %v", res.StatusCode, err)
	}
	if sum.OK || len(sum.Backends) != 3 {
		t.Fatalf("summary %+v: want ok false (one backend failed) and three rows", sum)
	}
	for _, b := range sum.Backends {
		switch b.ID {
		case "ok":
			if b.Status != 200 || b.Body != "fine" || b.Truncated {
				t.Errorf("ok row %+v", b)
			}
		case "big":
			if b.Status != 200 || b.Body != strings.Repeat("b", 10) || !b.Truncated {
				t.Errorf("big row %+v: want the first 10 bytes, marked truncated", b)
			}
		case "hung":
			if b.Status != http.StatusGatewayTimeout {
				t.Errorf("hung row %+v: want 504 (FanoutTimeout passed)", b)
			}
		default:
			t.Errorf("unexpected row %+v", b)
		}
	}
}
