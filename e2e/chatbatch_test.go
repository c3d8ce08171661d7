package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// collect hands every line of u's output to keep until done reports true
// (the lines also go to u.log, for the failure report).
func (u *users) collect(tb testing.TB, what string, keep func(word string, v map[string]any), done func() bool) {
	tb.Helper()
	deadline := time.After(60 * time.Second) // a deadlock guard, not a timing assertion
	for !done() {
		select {
		case l, ok := <-u.lines:
			if !ok {
				tb.Fatalf("users.js exited waiting for %s", what)
			}
			u.mu.Lock()
			u.log = append(u.log, l)
			u.used = append(u.used, true)
			u.mu.Unlock()
			w, rest, _ := strings.Cut(l, " ")
			var v map[string]any
			if json.Unmarshal([]byte(rest), &v) == nil {
				keep(w, v)
			}
		case <-deadline:
			tb.Fatalf("timeout waiting for %s", what)
		}
	}
}

// sendAll writes every command in one write, so that users.js emits them in
// one burst and the backend has many messages at once to batch.
func (u *users) sendAll(tb testing.TB, cmds []map[string]any) {
	tb.Helper()
	var buf bytes.Buffer
	for _, c := range cmds {
		b, _ := json.Marshal(c)
		buf.Write(append(b, '\n'))
	}
	if _, err := u.stdin.Write(buf.Bytes()); err != nil {
		tb.Fatal(err)
	}
}

// jsonStrings returns a JSON array's strings.
func jsonStrings(v any) []string {
	var out []string
	a, _ := v.([]any)
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestChatDirectMessageBurst: many users on one chat backend send bursts of
// direct messages to users on two other backends, with a message to an
// unknown name in the middle of each sender's burst. The chat backend sends
// them to Switchboard in batches (and the others receive them in batches);
// every message arrives exactly once and in its sender's order, each dm's
// reply is that message's own result, and the unknown name gets `unknown`
// without failing its neighbours. It runs again with the channel's read
// coalescing on (--control-read-coalesce).
func TestChatDirectMessageBurst(t *testing.T) {
	t.Run("default", func(t *testing.T) { testChatDirectMessageBurst(t) })
	t.Run("read-coalesce", func(t *testing.T) { testChatDirectMessageBurst(t, "--control-read-coalesce", "2ms") })
}

func testChatDirectMessageBurst(t *testing.T, sbArgs ...string) {
	const senders, perSender = 30, 20
	hub := startSB(t, sbArgs...)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	for _, p := range ports {
		chatBackend(t, hub, p)
	}
	hub.waitPool(t, addr(ports[0]), addr(ports[1]), addr(ports[2]))

	var from, toB, toC []string
	for i := range senders {
		from = append(from, fmt.Sprintf("s%02d", i))
		if i%2 == 0 {
			toB = append(toB, fmt.Sprintf("r%02d", i))
		} else {
			toC = append(toC, fmt.Sprintf("r%02d", i))
		}
	}
	a := startUsers(t, addr(ports[0]), from...)
	b := startUsers(t, addr(ports[1]), toB...)
	c := startUsers(t, addr(ports[2]), toC...)
	for _, u := range []struct {
		u *users
		n int
	}{{a, len(from)}, {b, len(toB)}, {c, len(toC)}} {
		u.u.expect(t, "ALL_READY", func(v map[string]any) bool {
			if len(v["users"].([]any)) != u.n {
				t.Fatalf("not every user logged in: %v", v)
			}
			return true
		})
	}

	// Round robin over the senders, so that one batch carries many
	// senders' messages; each sender's message to a ghost sits in the
	// middle of its burst.
	var cmds []map[string]any
	for k := range perSender {
		for i, s := range from {
			text := fmt.Sprintf("%s-%02d", s, k)
			cmds = append(cmds, map[string]any{"as": s, "dm": fmt.Sprintf("r%02d", i), "text": text, "id": text})
			if k == perSender/2 {
				cmds = append(cmds, map[string]any{"as": s, "dm": "ghost" + s, "text": "boo", "id": s + "-ghost"})
			}
		}
	}
	a.sendAll(t, cmds)

	acks := a.acks(t, "every dm's ACK", len(cmds))
	for i, s := range from {
		for k := range perSender {
			id := fmt.Sprintf("%s-%02d", s, k)
			res := acks[id]
			want := fmt.Sprintf("r%02d", i)
			if res["ok"] != true || !slices.Equal(jsonStrings(res["delivered"]), []string{want}) ||
				len(jsonStrings(res["held"])) != 0 || len(jsonStrings(res["unknown"])) != 0 || res["id"] == nil {
				t.Errorf("%s: reply %v, want delivered [%s]", id, res, want)
			}
		}
		res := acks[s+"-ghost"]
		if res["ok"] != true || !slices.Equal(jsonStrings(res["unknown"]), []string{"ghost" + s}) || len(jsonStrings(res["delivered"])) != 0 {
			t.Errorf("%s-ghost: reply %v, want unknown [ghost%s]", s, res, s)
		}
	}

	// Every receiver gets its sender's messages, each once, in order.
	got := map[string][]string{}
	for _, u := range []struct {
		u  *users
		rs []string
	}{{b, toB}, {c, toC}} {
		n := 0
		u.u.collect(t, "every message", func(w string, v map[string]any) {
			if w != "RECV" {
				return
			}
			r, _ := v["user"].(string)
			text, _ := v["text"].(string)
			if v["kind"] != "dm" || v["from"] != "s"+strings.TrimPrefix(r, "r") || v["id"] == nil {
				t.Errorf("unexpected message %v", v)
			}
			got[r] = append(got[r], text)
			n++
		}, func() bool { return n == len(u.rs)*perSender })
	}
	for i, s := range from {
		r := fmt.Sprintf("r%02d", i)
		var want []string
		for k := range perSender {
			want = append(want, fmt.Sprintf("%s-%02d", s, k))
		}
		if !slices.Equal(got[r], want) {
			t.Errorf("%s received %v, want %v (each once, in order)", r, got[r], want)
		}
	}
}

// chatFakeHub runs examples/chat/testdata/fakehub.js (mode "new" or "old") and
// returns its base URL and process.
func chatFakeHub(t *testing.T, mode string) (string, *testutil.Node) {
	t.Helper()
	n := testutil.StartNode(t, "examples/chat/testdata/fakehub.js", []string{"MODE=" + mode, "PORT=0"})
	var ready struct{ Port int }
	line := n.Expect(t, "READY ", 20*time.Second)
	if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "READY ")), &ready); err != nil || ready.Port == 0 {
		t.Fatalf("fake hub: %q", line)
	}
	return addr(ready.Port), n
}

// chatHubPost sends body to the fake hub and decodes its JSON answer.
func chatHubPost(t *testing.T, url string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %v %v", url, resp.StatusCode, v, err)
	}
	return v
}

// chatFakeEmit is one `message` the chat backend sent the fake hub.
type chatFakeEmit struct {
	Array bool
	Items []struct {
		To   *string
		From string
		Data struct{ Text string }
	}
}

// TestChatBatchesAgainstFakeHub drives backend.js against a stand-in for
// Switchboard that holds its acks until the whole burst has reached the
// backend, so batches form for sure. "new": the queued messages go as
// arrays and every user gets their own item's result; incoming arrays are
// delivered in order and acked once, naming the missing recipient of its
// item. "old" (a Switchboard from before batches answers an array with
// BAD_REQUEST): one array is tried, then the backend falls back to single
// messages (and says so once in its log), still in order, every reply
// exactly once.
func TestChatBatchesAgainstFakeHub(t *testing.T) {
	for _, mode := range []string{"new", "old"} {
		t.Run(mode, func(t *testing.T) { testChatFakeHub(t, mode) })
	}
}

// chatFakeBurst is a chat backend on a fake hub whose users have sent a
// burst the backend holds, waiting for the hub's answers.
type chatFakeBurst struct {
	hubURL  string
	hub     *testutil.Node // fakehub.js
	backend *testutil.Node // backend.js
	u       *users
	from    []string            // the senders
	cmds    []map[string]any    // the commands sent
	want    map[string][]string // sender -> message texts in order
}

// startChatFakeBurst starts the fake hub (mode "new" or "old") and a chat
// backend with 10 users on it, and sends the burst: each sender's dms to
// its (pretend) recipient with one to a ghost in the middle, then a public
// message. The backend hands the public message to its local users at
// once: once every sender's has arrived, the backend has taken every
// command (one user's events are handled in order), and nothing has been
// answered yet: the fake hub holds its acks.
func startChatFakeBurst(t *testing.T, mode string) *chatFakeBurst {
	const senders, perSender = 10, 12
	f := &chatFakeBurst{want: map[string][]string{}}
	f.hubURL, f.hub = chatFakeHub(t, mode)
	port := freePort(t)
	f.backend = testutil.StartNode(t, "examples/chat/backend.js", []string{"SB_URL=" + f.hubURL, "PORT=" + strconv.Itoa(port)})
	line := f.hub.Expect(t, "ADDRESS ", 20*time.Second)
	if !strings.Contains(line, `"ack":true`) || !strings.Contains(line, `"batch":true`) {
		t.Fatalf("address options without ack and batch: %s", line)
	}
	for i := range senders {
		f.from = append(f.from, fmt.Sprintf("s%02d", i))
	}
	f.u = startUsers(t, addr(port), f.from...)
	f.u.expect(t, "ALL_READY", func(v map[string]any) bool {
		if len(v["users"].([]any)) != senders {
			t.Fatalf("not every user logged in: %v", v)
		}
		return true
	})
	for k := range perSender {
		for i, s := range f.from {
			text := fmt.Sprintf("%s-%02d", s, k)
			f.cmds = append(f.cmds, map[string]any{"as": s, "dm": fmt.Sprintf("r%02d", i), "text": text, "id": text})
			f.want[s] = append(f.want[s], text)
			if k == perSender/2 {
				f.cmds = append(f.cmds, map[string]any{"as": s, "dm": "ghost" + s, "text": s + "-ghost", "id": s + "-ghost"})
				f.want[s] = append(f.want[s], s+"-ghost")
			}
		}
	}
	for _, s := range f.from {
		f.cmds = append(f.cmds, map[string]any{"as": s, "pub": s + "-end", "id": s + "-end"})
		f.want[s] = append(f.want[s], s+"-end")
	}
	f.u.sendAll(t, f.cmds)
	ends := map[string]bool{}
	f.u.collect(t, "every sender's public message, locally", func(w string, v map[string]any) {
		switch w {
		case "RECV":
			if v["kind"] == "pub" {
				ends[v["from"].(string)] = true
			}
		case "ACK":
			t.Errorf("an answer before the fake hub answered anything: %v", v)
		}
	}, func() bool { return len(ends) == senders })
	return f
}

// acks collects one ACK per command (a second one fails the test) and
// returns their answers by command id.
func (f *chatFakeBurst) acks(t *testing.T) map[string]map[string]any {
	return f.u.acks(t, "every command's ACK", len(f.cmds))
}

// acks collects n ACK lines, one per command id (a second one for an id
// fails the test), and returns their answers by id.
func (u *users) acks(t *testing.T, what string, n int) map[string]map[string]any {
	t.Helper()
	acks := map[string]map[string]any{}
	u.collect(t, what, func(w string, v map[string]any) {
		if w != "ACK" {
			return
		}
		id, _ := v["id"].(string)
		if _, dup := acks[id]; dup {
			t.Errorf("second ACK for %s: %v", id, v)
		}
		acks[id], _ = v["res"].(map[string]any)
	}, func() bool { return len(acks) == n })
	return acks
}

func testChatFakeHub(t *testing.T, mode string) {
	f := startChatFakeBurst(t, mode)
	hubURL, hub, backend, u, from, cmds, want := f.hubURL, f.hub, f.backend, f.u, f.from, f.cmds, f.want
	chatHubPost(t, hubURL+"/release", map[string]any{})
	acks := f.acks(t)
	for i, s := range from {
		for _, id := range want[s] {
			res := acks[id]
			switch {
			case strings.HasSuffix(id, "-ghost"):
				if res["ok"] != true || !slices.Equal(jsonStrings(res["unknown"]), []string{"ghost" + s}) || len(jsonStrings(res["delivered"])) != 0 {
					t.Errorf("%s: reply %v, want unknown [ghost%s]", id, res, s)
				}
			case strings.HasSuffix(id, "-end"):
				if res["ok"] != true || len(jsonStrings(res["delivered"])) != 0 {
					t.Errorf("%s: reply %v", id, res)
				}
			default:
				r := fmt.Sprintf("r%02d", i)
				if res["ok"] != true || !slices.Equal(jsonStrings(res["delivered"]), []string{r}) {
					t.Errorf("%s: reply %v, want delivered [%s]", id, res, r)
				}
			}
		}
	}

	// What the fake hub saw: the routed messages (for "old" every array is
	// refused, so only single ones count), each once, in each sender's order.
	routed := map[string][]string{}
	arrays, n := 0, 0
	for n < len(cmds) {
		var e chatFakeEmit
		if err := json.Unmarshal([]byte(strings.TrimPrefix(hub.Expect(t, "EMIT ", 30*time.Second), "EMIT ")), &e); err != nil {
			t.Fatal(err)
		}
		if e.Array {
			arrays++
			if mode == "old" {
				continue
			}
		}
		for _, it := range e.Items {
			routed[it.From] = append(routed[it.From], it.Data.Text)
			n++
		}
	}
	for _, s := range from {
		if !slices.Equal(routed[s], want[s]) {
			t.Errorf("the hub got %s's messages as %v, want %v", s, routed[s], want[s])
		}
	}
	switch {
	case mode == "new" && arrays == 0:
		t.Error("no message array: nothing was batched")
	case mode == "old" && arrays != 1:
		t.Errorf("%d message arrays sent to an old Switchboard, want 1 (then one by one)", arrays)
	}
	if mode == "old" {
		chatLogLine(t, backend, "does not take message batches")
	}

	// Incoming: an array of deliveries, acked once, naming the missing
	// recipient of its item; a batch without missing recipients acks with
	// nothing; the users get the messages in order.
	delivery := func(id, to, text string) map[string]any {
		return map[string]any{"id": id, "from": "zed", "backend": "http://127.0.0.1:1", "to": []string{to}, "room": nil, "data": map[string]any{"text": text}}
	}
	got := chatHubPost(t, hubURL+"/deliver", []any{
		delivery("d1", "s01", "in-1"), delivery("d2", "nobody", "in-2"), delivery("d3", "s02", "in-3"), delivery("d4", "s01", "in-4"),
	})
	if b, _ := json.Marshal(got["acked"]); string(b) != `[null,{"missing":["nobody"]},null,null]` {
		t.Errorf("batch ack %s, want [null,{missing:[nobody]},null,null]", b)
	}
	got = chatHubPost(t, hubURL+"/deliver", []any{delivery("d5", "s02", "in-5"), delivery("d6", "s01", "in-6")})
	if got["acked"] != nil {
		t.Errorf("batch ack %v, want none (everything handed over)", got["acked"])
	}
	got = chatHubPost(t, hubURL+"/deliver", delivery("d7", "nobody", "in-7"))
	if b, _ := json.Marshal(got["acked"]); string(b) != `{"missing":["nobody"]}` {
		t.Errorf("single ack %s, want {missing:[nobody]}", b)
	}
	recv := map[string][]string{}
	u.collect(t, "the delivered messages", func(w string, v map[string]any) {
		if w == "RECV" && v["from"] == "zed" {
			if v["kind"] != "dm" || v["via"] != "http://127.0.0.1:1" || v["id"] == nil {
				t.Errorf("unexpected message %v", v)
			}
			recv[v["user"].(string)] = append(recv[v["user"].(string)], v["text"].(string))
		}
	}, func() bool { return len(recv["s01"]) == 3 && len(recv["s02"]) == 2 })
	if !slices.Equal(recv["s01"], []string{"in-1", "in-4", "in-6"}) || !slices.Equal(recv["s02"], []string{"in-3", "in-5"}) {
		t.Errorf("users got %v, want s01 [in-1 in-4 in-6], s02 [in-3 in-5]", recv)
	}
}

// chatLogLine waits for a stdout line of n containing s.
func chatLogLine(t *testing.T, n *testutil.Node, s string) {
	t.Helper()
	deadline := time.After(30 * time.Second) // a deadlock guard
	for {
		select {
		case l, ok := <-n.Lines:
			if !ok {
				t.Fatalf("process exited before logging %q", s)
			}
			if strings.Contains(l, s) {
				return
			}
		case <-deadline:
			t.Fatalf("timeout waiting for a log line with %q", s)
		}
	}
}

// TestChatBatchesHubGone: the connection to Switchboard ends while a burst
// waits for its answers (two messages sent, the rest queued behind them):
// every user's command gets exactly one answer, HUB_TIMEOUT, at once.
func TestChatBatchesHubGone(t *testing.T) {
	f := startChatFakeBurst(t, "new")
	chatHubPost(t, f.hubURL+"/drop", map[string]any{})
	for id, res := range f.acks(t) {
		if res["ok"] != false || res["code"] != "HUB_TIMEOUT" {
			t.Errorf("%s: reply %v, want HUB_TIMEOUT", id, res)
		}
	}
}
