package tracker

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// stack is Switchboard's main listener as internal/app wires it for the
// tracker layouts: the /list channel (control + router + memory engine),
// the tracker, and (unless trackerOnly) the proxy for every other path.
// In-process (unlike startBinary) so a test can read the Tracker's Stats;
// the routing is app's: exact paths, everything else to the proxy.
type stack struct {
	URL string
	Reg *backend.Registry
	Tr  *Tracker
}

func startStack(tb testing.TB, trackerOnly bool) *stack {
	tb.Helper()
	reg := backend.NewRegistry()
	var rt *router.Router
	pres := memory.NewPresence(memory.PresenceConfig{OnExpire: func(name string, h engine.Holder) { rt.OnExpire(name, h) }})
	rooms := memory.NewRooms()
	rt = router.New(router.Config{}, pres, rooms, nil)
	ch, err := control.New(control.Config{}, reg, rt, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tr, err := New(Config{}, reg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	var tp *http.Transport
	exact := map[string]http.Handler{"/list": ch, "/list/": ch, "/tracker": tr, "/tracker/": tr, "/tracker/servers": tr}
	var fallback http.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "not found: switchboard runs in tracker-only mode and proxies no path", http.StatusNotFound)
	})
	if !trackerOnly {
		tp = &http.Transport{}
		var rr atomic.Uint64
		fallback = &httputil.ReverseProxy{
			Transport: tp,
			Rewrite: func(pr *httputil.ProxyRequest) {
				pool := reg.Snapshot()
				if len(pool) == 0 {
					return // no URL: the proxy answers 502
				}
				pr.SetURL(pool[rr.Add(1)%uint64(len(pool))].URL)
				pr.Out.Host = pr.In.Host
			},
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h, ok := exact[r.URL.Path]; ok {
			h.ServeHTTP(w, r)
			return
		}
		fallback.ServeHTTP(w, r)
	}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	tb.Cleanup(func() {
		// app's order: listeners, tunnels, channel sessions, tracker, engine.
		srv.CloseClientConnections()
		if tp != nil {
			tp.CloseIdleConnections()
		}
		_ = ch.Close(context.Background())
		cancel()
		<-done
		tr.Close()
		srv.Close()
		_ = pres.Close(context.Background())
		_ = rooms.Close(context.Background())
	})
	return &stack{URL: srv.URL, Reg: reg, Tr: tr}
}

// startBinary runs the real Switchboard binary (cmd/switchboard, as built
// by testutil.SwitchboardBinary) on a free loopback port, in tracker-only
// mode if asked, and returns its main URL once its admin listener answers.
func startBinary(tb testing.TB, trackerOnly bool) string {
	tb.Helper()
	port, admin := testutil.FreePort(tb), testutil.FreePort(tb)
	args := []string{"--port", fmt.Sprint(port), "--admin", fmt.Sprintf("127.0.0.1:%d", admin),
		"--shutdown-drain-delay", "0s", "--log-level", "warn"}
	if trackerOnly {
		args = append(args, "--tracker-only")
	}
	cmd := exec.Command(testutil.SwitchboardBinary(tb), args...)
	out := &testutil.LogBuffer{Max: 1 << 16}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	tb.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", admin))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return fmt.Sprintf("http://127.0.0.1:%d", port)
			}
		}
		select {
		case <-exited:
			tb.Fatalf("switchboard exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("switchboard not ready: %s", out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// freePorts returns n consecutive free loopback ports after a base port
// (base+1 .. base+n), as the example's scripts want them.
func freePorts(tb testing.TB, n int) (base int) {
	tb.Helper()
	return testutil.FreePorts(tb, n) - 1
}

// artifactDir is where screenshots go: $SB_ARTIFACTS/<test> when set, else
// the test's artifact directory (kept with go test -artifacts).
func artifactDir(t *testing.T) string {
	if d := os.Getenv("SB_ARTIFACTS"); d != "" {
		d = filepath.Join(d, strings.ReplaceAll(t.Name(), "/", "_"))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		return d
	}
	return t.ArtifactDir()
}

const chromium = "/usr/bin/chromium"

func needChromium(t *testing.T) {
	if _, err := os.Stat(chromium); err != nil {
		t.Skipf("%s not installed (make test installs Debian's chromium): %v", chromium, err)
	}
}

// runBrowserCheck runs examples/tracker/testdata/browser-check.js and
// waits for its verdict, logging its steps.
func runBrowserCheck(t *testing.T, env []string) {
	n := testutil.StartNode(t, "examples/tracker/testdata/browser-check.js", append(env, "CHROMIUM="+chromium))
	deadline := time.After(120 * time.Second)
	for {
		select {
		case l, ok := <-n.Lines:
			if !ok {
				t.Fatalf("browser check exited without a verdict; stderr:\n%s", n.Stderr())
			}
			t.Log(l)
			if l == "OK" {
				return
			}
			if strings.HasPrefix(l, "FAIL") {
				var rest []string
				for more := range n.Lines {
					rest = append(rest, more)
				}
				t.Fatalf("browser check failed: %s\n%s\nstderr:\n%s", l, strings.Join(rest, "\n"), n.Stderr())
			}
		case <-deadline:
			t.Fatalf("browser check: no verdict within 120s; stderr:\n%s", n.Stderr())
		}
	}
}

// TestBrowserExample: headless Chromium loads examples/tracker's page from
// a Switchboard stack (page proxy + tracker + /list channel), sees the three backends,
// sees one go when it is SIGKILLed and come back when restarted, and gets
// a message a user sent on one backend through every backend (the channel
// relay of `broadcast`). The screenshot is kept as an artifact.
func TestBrowserExample(t *testing.T) {
	needChromium(t)
	st := startStack(t, false)
	base := freePorts(t, 3)
	shot := filepath.Join(artifactDir(t), "tracker-page.png")
	runBrowserCheck(t, []string{"SB_URL=" + st.URL, fmt.Sprintf("BASE_PORT=%d", base), "SCREENSHOT=" + shot})
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
	t.Logf("screenshot: %s", shot)
	if s := st.Tr.Stats(); s.UnknownEvents != 0 || s.Changes < 2 {
		t.Fatalf("tracker stats %+v", s)
	}
}

// TestBrowserExampleBinary is TestBrowserExample against the real binary:
// its own proxy front end serves the page, its tracker the list, its /list
// channel the relay.
func TestBrowserExampleBinary(t *testing.T) {
	needChromium(t)
	url := startBinary(t, false)
	base := freePorts(t, 3)
	shot := filepath.Join(artifactDir(t), "tracker-page-binary.png")
	runBrowserCheck(t, []string{"SB_URL=" + url, fmt.Sprintf("BASE_PORT=%d", base), "SCREENSHOT=" + shot})
	if fi, err := os.Stat(shot); err != nil || fi.Size() == 0 {
		t.Fatalf("no screenshot: %v", err)
	}
}
