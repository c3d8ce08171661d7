package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestPresenceRulesWithStockClient drives presence and messaging from
// backends on the stock npm client (e2e/testdata/presence.js).
func TestPresenceRulesWithStockClient(t *testing.T) {
	hub := startSB(t, "--presence-mailbox-messages", "5", "--presence-grace", "30s")
	n := testutil.StartNode(t, "e2e/testdata/presence.js", nil, hub.URL())
	checks := map[string][]json.RawMessage{}
	for {
		l := n.Expect(t, "", 60*time.Second)
		if strings.HasPrefix(l, "FATAL") {
			t.Fatal(l)
		}
		if l == "DONE" {
			break
		}
		if f := strings.SplitN(l, " ", 3); len(f) == 3 && f[0] == "CHECK" {
			checks[f[1]] = append(checks[f[1]], json.RawMessage(f[2]))
		}
	}
	eq := func(name string, want string) {
		t.Helper()
		got := checks[name]
		if len(got) != 1 {
			t.Errorf("%s: %d results", name, len(got))
			return
		}
		if !jsonEqual(got[0], want) {
			t.Errorf("%s = %s, want %s", name, got[0], want)
		}
	}
	if len(checks["race"]) != 10 {
		t.Fatalf("race rounds: %d", len(checks["race"]))
	}
	for _, r := range checks["race"] {
		if !jsonEqual(r, `{"wins":1,"codes":["NAME_TAKEN","NAME_TAKEN"]}`) {
			t.Errorf("race: %s", r)
		}
	}
	codeOf := func(name, code string) {
		t.Helper()
		var v struct {
			OK   bool   `json:"ok"`
			Code string `json:"code"`
			Msg  string `json:"message"`
		}
		if len(checks[name]) != 1 || json.Unmarshal(checks[name][0], &v) != nil || v.OK || v.Code != code || v.Msg == "" {
			t.Errorf("%s = %s, want code %s", name, checks[name], code)
		}
	}
	codeOf("leave-non-holder", "NOT_HOLDER")
	codeOf("bad-to", "BAD_REQUEST")
	codeOf("bad-message", "BAD_REQUEST")
	codeOf("bad-name", "INVALID_NAME")
	codeOf("bad-room", "BAD_REQUEST")
	codeOf("unknown-event", "UNKNOWN_EVENT")
	eq("exists", `[true,"http://127.0.0.1:4101"]`)
	eq("exists-unknown", `[false,null]`)
	eq("still-held", `[true,"http://127.0.0.1:4101"]`)
	eq("room-inboxes", `{"a":["to everyone"],"b":["in lobby"],"c":["to everyone"]}`)
	eq("self-inbox", `[[["sadman"],"note to self"]]`)
	eq("held", `[["ihsan"],["ihsan"],["ihsan"],["ihsan"],["ihsan"],["ihsan"],["ihsan"],["ihsan"]]`)
	eq("orphan-exists", `[true,null]`)
	var re struct {
		Claim struct {
			OK bool `json:"ok"`
		} `json:"claim"`
		Got []json.RawMessage `json:"got"`
	}
	if len(checks["reclaim"]) != 1 || json.Unmarshal(checks["reclaim"][0], &re) != nil || !re.Claim.OK {
		t.Fatalf("reclaim = %s", checks["reclaim"])
	}
	// Mailbox of 5: the 3 oldest of 8 dropped, the rest in order, then the newer one.
	got, _ := json.Marshal(re.Got)
	if string(got) != `[3,4,5,6,7,"newer"]` {
		t.Errorf("mailbox delivery = %s, want [3,4,5,6,7,\"newer\"]", got)
	}
}

func jsonEqual(a json.RawMessage, b string) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal([]byte(b), &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return string(xa) == string(ya)
}

// TestSlowBackendSlowsSenders: a backend that consumes slowly gets every
// message, in order; its sender is slowed (small queues force it), nothing
// is dropped or held.
func TestSlowBackendSlowsSenders(t *testing.T) {
	// Default-length heartbeats: a consumer this busy answers pings late.
	hub := startSB(t, "--control-send-queue-messages", "8",
		"--control-ping-interval", "10s", "--control-ping-timeout", "10s")
	const n = "2000"
	recv := testutil.StartNode(t, "e2e/testdata/slow.js", nil, hub.URL(), "recv", "4201", n)
	recv.Expect(t, "READY", 30*time.Second)
	send := testutil.StartNode(t, "e2e/testdata/slow.js", nil, hub.URL(), "send", "4202", n)
	if got := send.Expect(t, "SENT", 40*time.Second); got != "SENT 2000 0" {
		t.Fatalf("sender: %s", got)
	}
	if got := recv.Expect(t, "GOT", 60*time.Second); got != "GOT 2000 true" {
		t.Fatalf("receiver: %s", got)
	}
}
