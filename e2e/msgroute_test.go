package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

func post(tb testing.TB, url, body string, hdr map[string]string) (int, string) {
	tb.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestMessageRoute: POST /message reaches the backend holding the user, all
// backends without a recipient, the mailbox for an orphaned user, 404 for
// an unknown one; bounded, authenticated, rate limited.
func TestMessageRoute(t *testing.T) {
	hub := startSB(t, "--message-token", "m3ssage", "--message-max-body-bytes", "1024",
		"--presence-grace", "1m", "--proxy-affinity-query", "user")
	gs := []*goBackend{startGoBackend(t, hub, 1), startGoBackend(t, hub, 1), startGoBackend(t, hub, 1)}
	hub.waitPool(t, gs[0].Addr, gs[1].Addr, gs[2].Addr)
	if r := gs[1].call(t, "join_subs", json.RawMessage(`"alice"`)); !strings.Contains(string(r), `"ok":true`) {
		t.Fatalf("join: %s", r)
	}
	auth := map[string]string{"Authorization": "Bearer m3ssage"}
	url := hub.URL() + "/message"

	if code, body := post(t, url+"?to=alice", `{"text":"hi"}`, nil); code != 401 || !strings.Contains(body, "UNAUTHORIZED") {
		t.Fatalf("no token: %d %s", code, body)
	}
	want := "go :" + strconv.Itoa(gs[1].Port)
	for range 5 {
		if code, body := post(t, url+"?to=alice", `{"text":"hi"}`, auth); code != 200 || body != want {
			t.Fatalf("to alice: %d %q, want %q", code, body, want)
		}
	}
	hdr := map[string]string{"Authorization": "Bearer m3ssage", "X-Switchboard-To": "alice"}
	if code, body := post(t, url, `{"text":"hi"}`, hdr); code != 200 || body != want {
		t.Fatalf("header recipient: %d %q", code, body)
	}
	code, body := post(t, url, `{"text":"all"}`, auth)
	var sum struct {
		OK       bool `json:"ok"`
		Backends []struct {
			Address string `json:"address"`
			Status  int    `json:"status"`
			Body    string `json:"body"`
		} `json:"backends"`
	}
	if code != 200 || json.Unmarshal([]byte(body), &sum) != nil || !sum.OK || len(sum.Backends) != 3 {
		t.Fatalf("fan-out: %d %s", code, body)
	}
	for _, b := range sum.Backends {
		if b.Status != 200 || !strings.HasPrefix(b.Body, "go :") {
			t.Fatalf("fan-out reply %+v", b)
		}
	}
	if code, body := post(t, url+"?to=ghost", `{}`, auth); code != 404 || !strings.Contains(body, "UNKNOWN_NAME") {
		t.Fatalf("unknown: %d %s", code, body)
	}
	if code, body := post(t, url+"?to=alice", strings.Repeat("x", 2000), auth); code != 413 || !strings.Contains(body, "TOO_LARGE") {
		t.Fatalf("too large: %d %s", code, body)
	}
	if code, _ := post(t, url+"?to=%00bad", `{}`, auth); code != 400 {
		t.Fatalf("invalid name: %d", code)
	}

	// User affinity for ordinary requests.
	for range 6 {
		if code, body := httpGet(hub.URL() + "/page?user=alice"); code != 200 || body != want {
			t.Fatalf("affinity: %d %q, want %q", code, body, want)
		}
	}

	// Orphaned: held, then delivered to whoever re-claims alice.
	gs[1].close()
	hub.waitPool(t, gs[0].Addr, gs[2].Addr)
	code, body = post(t, url+"?to=alice", `{"text":"while away"}`, auth)
	if code != 202 || !strings.Contains(body, `"held":["alice"]`) {
		t.Fatalf("orphan: %d %s", code, body)
	}
	if r := gs[2].call(t, "join_subs", json.RawMessage(`"alice"`)); !strings.Contains(string(r), `"ok":true`) {
		t.Fatalf("re-claim: %s", r)
	}
	select {
	case m := <-gs[2].Msgs:
		var d struct {
			To   []string        `json:"to"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(m, &d) != nil || string(d.Data) != `{"text":"while away"}` || fmt.Sprint(d.To) != "[alice]" {
			t.Fatalf("held message %s", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("held message not delivered")
	}
}

func TestMessageRouteRateLimit(t *testing.T) {
	hub := startSB(t, "--message-rate-per-second", "0.001", "--message-burst", "2")
	g := startGoBackend(t, hub, 1)
	hub.waitPool(t, g.Addr)
	codes := []int{}
	for range 4 {
		code, _ := post(t, hub.URL()+"/message", `{}`, nil)
		codes = append(codes, code)
	}
	if fmt.Sprint(codes) != "[200 200 429 429]" {
		t.Fatalf("codes %v", codes)
	}
}
