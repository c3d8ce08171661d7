package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// users drives examples/chat/users.js: scripted chat users.
type users struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	lines <-chan string
	mu    sync.Mutex
	log   []string // every line read
	used  []bool   // log[i] was consumed by expect
}

func startUsers(tb testing.TB, url string, names ...string) *users {
	tb.Helper()
	root := testutil.RepoRoot(tb)
	cmd := exec.Command("node", filepath.Join(root, "examples/chat/users.js"), "--url", url, "--name", strings.Join(names, ","))
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	u := &users{cmd: cmd, stdin: in, lines: lines(out)}
	tb.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if tb.Failed() {
			u.mu.Lock()
			tb.Logf("users %v saw:\n%s", names, strings.Join(u.log, "\n"))
			u.mu.Unlock()
		}
	})
	return u
}

// send writes one command line.
func (u *users) send(tb testing.TB, cmd map[string]any) {
	tb.Helper()
	b, _ := json.Marshal(cmd)
	if _, err := u.stdin.Write(append(b, '\n')); err != nil {
		tb.Fatal(err)
	}
}

// expect waits for a line "WORD {json}" whose object satisfies match and
// consumes it. Lines are kept until consumed, so their order of arrival
// across users of one process does not matter.
func (u *users) expect(tb testing.TB, word string, match func(map[string]any) bool) map[string]any {
	tb.Helper()
	try := func(i int) map[string]any {
		l := u.log[i]
		w, rest, _ := strings.Cut(l, " ")
		if w != word || u.used[i] {
			return nil
		}
		var v map[string]any
		if json.Unmarshal([]byte(rest), &v) != nil {
			return nil
		}
		if match == nil || match(v) {
			u.used[i] = true
			return v
		}
		return nil
	}
	u.mu.Lock()
	for i := range u.log {
		if v := try(i); v != nil {
			u.mu.Unlock()
			return v
		}
	}
	u.mu.Unlock()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-u.lines:
			if !ok {
				tb.Fatalf("users.js exited waiting for %s", word)
			}
			u.mu.Lock()
			u.log = append(u.log, l)
			u.used = append(u.used, false)
			v := try(len(u.log) - 1)
			u.mu.Unlock()
			if v != nil {
				return v
			}
		case <-deadline:
			tb.Fatalf("timeout waiting for %s", word)
		}
	}
}

// chatBackend starts examples/chat/backend.js on port, joined to hub.
func chatBackend(tb testing.TB, hub *sb, port int) *testutil.Node {
	tb.Helper()
	return testutil.StartNode(tb, "examples/chat/backend.js", []string{"SB_URL=" + hub.URL(), "PORT=" + strconv.Itoa(port)})
}

// TestOriginalTable makes the original README's table true: sadman and
// alif on the first backend, ihsan on the second, ahsan and baki on the
// third; every ordered pair exchanges a direct message and a public message
// reaches everyone.
func TestOriginalTable(t *testing.T) {
	hub := startSB(t)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	for _, p := range ports {
		chatBackend(t, hub, p)
	}
	hub.waitPool(t, addr(ports[0]), addr(ports[1]), addr(ports[2]))
	table := [][]string{{"sadman", "alif"}, {"ihsan"}, {"ahsan", "baki"}}
	proc := map[string]*users{}
	for i, names := range table {
		u := startUsers(t, addr(ports[i]), names...)
		u.expect(t, "ALL_READY", func(v map[string]any) bool { return len(v["users"].([]any)) == len(names) })
		for _, n := range names {
			proc[n] = u
		}
	}
	everyone := []string{"sadman", "alif", "ihsan", "ahsan", "baki"}
	for _, from := range everyone {
		for _, to := range everyone {
			if from == to {
				continue
			}
			text := from + "->" + to
			proc[from].send(t, map[string]any{"as": from, "dm": to, "text": text, "id": text})
			ack := proc[from].expect(t, "ACK", func(v map[string]any) bool { return v["id"] == text })
			if res, _ := ack["res"].(map[string]any); res["ok"] != true {
				t.Fatalf("%s: %v", text, ack)
			}
			proc[to].expect(t, "RECV", func(v map[string]any) bool {
				return v["user"] == to && v["kind"] == "dm" && v["from"] == from && v["text"] == text
			})
		}
	}
	proc["ihsan"].send(t, map[string]any{"as": "ihsan", "pub": "hello all"})
	for _, to := range everyone {
		if to == "ihsan" {
			continue
		}
		proc[to].expect(t, "RECV", func(v map[string]any) bool {
			return v["user"] == to && v["kind"] == "pub" && v["from"] == "ihsan" && v["text"] == "hello all"
		})
	}
}

// TestBackendKilledMidConversation: the backend holding ihsan dies; ihsan's
// client reconnects through Switchboard to another backend and re-claims
// the name; every message sent to ihsan meanwhile arrives, in order.
func TestBackendKilledMidConversation(t *testing.T) {
	hub := startSB(t)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	nodes := map[string]*testutil.Node{}
	for _, p := range ports {
		nodes[strconv.Itoa(p)] = chatBackend(t, hub, p)
	}
	hub.waitPool(t, addr(ports[0]), addr(ports[1]), addr(ports[2]))
	ihsan := startUsers(t, hub.URL(), "ihsan")
	ready := ihsan.expect(t, "READY", nil)
	on := fmt.Sprint(ready["backend"])
	other := ports[0]
	if strconv.Itoa(other) == on {
		other = ports[1]
	}
	sadman := startUsers(t, addr(other), "sadman")
	sadman.expect(t, "ALL_READY", nil)
	send := func(i int) {
		id := fmt.Sprint("m", i)
		sadman.send(t, map[string]any{"dm": "ihsan", "text": id, "id": id})
		ack := sadman.expect(t, "ACK", func(v map[string]any) bool { return v["id"] == id })
		if res, _ := ack["res"].(map[string]any); res["ok"] != true {
			t.Fatalf("%s: %v", id, ack)
		}
	}
	send(0)
	ihsan.expect(t, "RECV", func(v map[string]any) bool { return v["text"] == "m0" })
	_ = nodes[on].Cmd.Process.Kill()
	for i := 1; i <= 10; i++ {
		send(i)
	}
	re := ihsan.expect(t, "RELOGIN", nil)
	if fmt.Sprint(re["backend"]) == on {
		t.Fatalf("re-login on the dead backend %v", re)
	}
	for i := 1; i <= 10; i++ {
		want := fmt.Sprint("m", i)
		got := ihsan.expect(t, "RECV", nil)
		if got["text"] != want {
			t.Fatalf("message %d: got %v, want %s (in order)", i, got, want)
		}
	}
}
