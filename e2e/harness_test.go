package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testutil.RemoveSwitchboardBinary()
	os.Exit(code)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int { return testutil.FreePort(tb) }

// sb is a running Switchboard process.
type sb struct {
	Port, AdminPort int
	cmd             *exec.Cmd
	args            []string
	log             *testutil.LogBuffer
	done            chan struct{}
}

// URL is the main listener's base URL.
func (s *sb) URL() string { return "http://127.0.0.1:" + strconv.Itoa(s.Port) }

// startSB starts Switchboard with short heartbeats and extra flags, and waits
// until its admin listener answers.
func startSB(tb testing.TB, extra ...string) *sb {
	tb.Helper()
	return startSBOn(tb, freePort(tb), extra...)
}

// startSBOn is startSB on a given main port.
func startSBOn(tb testing.TB, port int, extra ...string) *sb {
	tb.Helper()
	s := &sb{Port: port, AdminPort: freePort(tb)}
	s.args = append([]string{
		"--port", strconv.Itoa(s.Port), "--admin", "127.0.0.1:" + strconv.Itoa(s.AdminPort),
		"--control-ping-interval", "400ms", "--control-ping-timeout", "400ms",
		"--shutdown-drain-delay", "0s", "--log-level", "debug",
	}, extra...)
	s.start(tb)
	tb.Cleanup(func() { s.kill() })
	return s
}

func (s *sb) start(tb testing.TB) {
	tb.Helper()
	s.log = &testutil.LogBuffer{}
	s.cmd = exec.Command(testutil.SwitchboardBinary(tb), s.args...)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	if err := s.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) { _ = cmd.Wait(); close(done) }(s.cmd, s.done)
	testutil.WaitFor(tb, "switchboard healthz", func() bool {
		code, _ := httpGet("http://127.0.0.1:" + strconv.Itoa(s.AdminPort) + "/healthz")
		return code == 200
	})
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("switchboard log:\n%s", s.log.String())
		}
	})
}

func (s *sb) kill() {
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// stop sends SIGTERM and waits for the exit.
func (s *sb) stop(tb testing.TB) {
	tb.Helper()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		tb.Fatal("switchboard did not stop after SIGTERM")
	}
}

// backendInfo is one row of the admin /backends list.
type backendInfo struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Weight   int    `json:"weight"`
	Session  string `json:"session"`
	Draining bool   `json:"draining"`
	Static   bool   `json:"static"`
}

func (s *sb) backends(tb testing.TB) []backendInfo {
	tb.Helper()
	code, body := httpGet("http://127.0.0.1:" + strconv.Itoa(s.AdminPort) + "/backends")
	if code != 200 {
		tb.Fatalf("admin /backends = %d", code)
	}
	var out []backendInfo
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		tb.Fatalf("admin /backends: %v", err)
	}
	return out
}

// waitPool waits until the pool holds exactly the given addresses.
func (s *sb) waitPool(tb testing.TB, addrs ...string) {
	tb.Helper()
	want := map[string]bool{}
	for _, a := range addrs {
		want[a] = true
	}
	testutil.WaitFor(tb, fmt.Sprintf("pool = %v", addrs), func() bool {
		got := s.backends(tb)
		if len(got) != len(want) {
			return false
		}
		for _, b := range got {
			if !want[b.Address] {
				return false
			}
		}
		return true
	})
}

// nodeBackend starts examples/node-backend/server.js on port.
func nodeBackend(tb testing.TB, hub *sb, port int, env ...string) *testutil.Node {
	tb.Helper()
	n := testutil.StartNode(tb, "examples/node-backend/server.js",
		append([]string{"SB_URL=" + hub.URL(), "PORT=" + strconv.Itoa(port)}, env...))
	return n
}

var client = &http.Client{Timeout: 10 * time.Second}

func httpGet(url string) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// lines scans a reader into a channel (used for Node scripts' stdout).
func lines(r io.Reader) <-chan string {
	ch := make(chan string, 256)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			ch <- sc.Text()
		}
	}()
	return ch
}

var _ = context.Background
var _ = lines
