package tracker

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

const nginxBin = "/usr/sbin/nginx"

// startNginx runs examples/tracker/nginx.conf (the README's "behind nginx"
// layout) with its fixed ports replaced: nginx on a free port, Switchboard
// at sbURL, the three backends on base+1..base+3. It returns nginx's URL.
func startNginx(t *testing.T, sbURL string, base int) string {
	t.Helper()
	if _, err := os.Stat(nginxBin); err != nil {
		t.Skipf("%s not installed (make test installs Debian's nginx): %v", nginxBin, err)
	}
	raw, err := os.ReadFile(filepath.Join(testutil.RepoRoot(t), "examples/tracker/nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	conf := string(raw)
	p := func(i int) string { return fmt.Sprint(base + i) }
	for _, r := range [][2]string{
		{"listen 127.0.0.1:8000;", "listen " + addr + ";"},
		{"server 127.0.0.1:8080;", "server " + host(t, sbURL) + ";"},
		{"server 127.0.0.1:4001 ", "server 127.0.0.1:" + p(1) + " "},
		{"server 127.0.0.1:4002 ", "server 127.0.0.1:" + p(2) + " "},
		{"server 127.0.0.1:4003 ", "server 127.0.0.1:" + p(3) + " "},
		{"^/b/(400[1-3])(/.*)$", "^/b/(" + p(1) + "|" + p(2) + "|" + p(3) + ")(/.*)$"},
	} {
		if strings.Count(conf, r[0]) != 1 {
			t.Fatalf("examples/tracker/nginx.conf changed: %q not found once; update this test", r[0])
		}
		conf = strings.Replace(conf, r[0], r[1], 1)
	}
	// The prefix holds nginx's temp directories, which its workers (another
	// user when run as root) must reach.
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(nginxBin, "-p", dir, "-e", "stderr", "-c", path)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its workers too are ours to kill
	cmd.WaitDelay = 2 * time.Second
	var mu sync.Mutex
	var stderr strings.Builder
	cmd.Stderr = writerFunc(func(b []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		if stderr.Len() < 1<<16 {
			stderr.Write(b)
		}
		return len(b), nil
	})
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		// SIGTERM: the master stops its workers, then exits; the group
		// SIGKILL is for a master that does not.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			mu.Lock()
			t.Logf("nginx stderr:\n%s", stderr.String())
			mu.Unlock()
		}
	})
	// Wait until it accepts (or exits: a config error).
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(10 * time.Second)
	for {
		if c, err := net.Dial("tcp", addr); err == nil {
			_ = c.Close()
			return "http://" + addr
		}
		select {
		case err := <-exited:
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("nginx exited: %v\n%s", err, stderr.String())
		case <-deadline:
			t.Fatal("nginx not listening after 10s")
		case <-tick.C:
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// waitContains waits for a stdout line of n containing one of subs.
func waitContains(t *testing.T, n *testutil.Node, subs ...string) string {
	t.Helper()
	deadline := time.After(waitFor)
	var seen []string
	for {
		select {
		case l, ok := <-n.Lines:
			if !ok {
				t.Fatalf("node exited waiting for %q; stdout:\n%s\nstderr:\n%s", subs, strings.Join(seen, "\n"), n.Stderr())
			}
			for _, s := range subs {
				if strings.Contains(l, s) {
					return l
				}
			}
			seen = append(seen, l)
		case <-deadline:
			t.Fatalf("no line containing %q within %v; stdout:\n%s", subs, waitFor, strings.Join(seen, "\n"))
		}
	}
}

// TestNginxLayout runs the README's second layout for real: nginx (from
// examples/tracker/nginx.conf) in front, load-balancing the three Node
// backends, passing /list/ and /tracker/ (WebSocket upgrade) to Switchboard
// in tracker-only mode. The backends register through nginx; the stock npm
// client connects to the tracker through nginx and gets `servers` with the
// backends' public URLs, then `server_left` when one is killed.
//
// Two variants: backends announcing their own address as public URL
// (browsers reach them directly), and the README's /b/PORT URLs through
// nginx (a public URL with a path: skipped while the channel refuses one).
func TestNginxLayout(t *testing.T) {
	for _, tc := range []struct {
		name string
		pub  func(front string, port int) string
	}{
		{"direct URLs", func(_ string, port int) string { return fmt.Sprintf("http://127.0.0.1:%d", port) }},
		{"URLs through nginx", func(front string, port int) string { return fmt.Sprintf("%s/b/%d", front, port) }},
	} {
		t.Run(tc.name, func(t *testing.T) { testNginxLayout(t, tc.pub) })
	}
}

func testNginxLayout(t *testing.T, pubURL func(front string, port int) string) {
	st := struct{ URL string }{startBinary(t, true)} // the real binary, --tracker-only
	base := freePorts(t, 3)
	front := startNginx(t, st.URL, base)

	var backends []*testutil.Node
	var want []string
	for i := 1; i <= 3; i++ {
		port := base + i
		pub := pubURL(front, port)
		want = append(want, pub)
		n := testutil.StartNode(t, "examples/tracker/backend.js", []string{
			fmt.Sprintf("PORT=%d", port), "SB_URL=" + front, "PUBLIC_URL=" + pub, "PAGE_ORIGINS=" + front,
		})
		backends = append(backends, n)
	}
	slices.Sort(want)
	for _, n := range backends {
		if l := waitContains(t, n, "registered as", "address refused"); !strings.Contains(l, "registered as") {
			t.Fatal(l)
		}
	}

	for _, transports := range []string{"", "websocket"} {
		env := []string{}
		if transports != "" {
			env = append(env, "TRANSPORTS="+transports)
		}
		n := testutil.StartNode(t, clientJS, append(env, "ORIGIN="+front), front, "/tracker")
		expectLine(t, n, "connect 1")
		line := next(t, n)
		var list []entry
		if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "servers ")), &list); err != nil || !strings.HasPrefix(line, "servers ") {
			t.Fatalf("through nginx (%q): %q: %v", transports, line, err)
		}
		var got []string
		for _, e := range list {
			got = append(got, e.URL)
		}
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Fatalf("servers through nginx: %v, want %v", got, want)
		}
		if transports == "websocket" {
			// A backend dies: every tracker client hears it, through nginx.
			_ = backends[2].Cmd.Process.Kill()
			gone := pubURL(front, base+3)
			if l := next(t, n); !strings.HasPrefix(l, "server_left ") || !strings.Contains(l, gone) {
				t.Fatalf("after kill: %q", l)
			}
		}
	}

	res, body := do(t, mustReq(t, front+"/tracker/servers", ""))
	if res.StatusCode != 200 || strings.Count(body, `"id"`) != 2 {
		t.Fatalf("GET /tracker/servers through nginx: %d %q", res.StatusCode, body)
	}
	// nginx passes Host through: the same-origin check works behind it.
	if res, _ := do(t, mustReq(t, front+"/tracker/?EIO=4&transport=polling", "https://evil.example")); res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin through nginx: %d", res.StatusCode)
	}
	// The page comes from the backends through nginx.
	if res, body := do(t, mustReq(t, front+"/", "")); res.StatusCode != 200 || !strings.Contains(body, "socket.io.min.js") {
		t.Fatalf("page through nginx: %d %q", res.StatusCode, body)
	}
	// Switchboard in tracker-only mode proxies nothing.
	if res, body := do(t, mustReq(t, st.URL+"/index.html", "")); res.StatusCode != 404 || !strings.Contains(body, "tracker-only") {
		t.Fatalf("tracker-only: %d %q", res.StatusCode, body)
	}
}

// TestNginxBrowser: the browser check of examples/tracker through nginx:
// the page and the tracker on nginx's origin, the backends announcing
// their own addresses.
func TestNginxBrowser(t *testing.T) {
	needChromium(t)
	st := struct{ URL string }{startBinary(t, true)} // the real binary, --tracker-only
	base := freePorts(t, 3)
	front := startNginx(t, st.URL, base)
	shot := filepath.Join(artifactDir(t), "tracker-page-nginx.png")
	runBrowserCheck(t, []string{"SB_URL=" + front, fmt.Sprintf("BASE_PORT=%d", base), "SCREENSHOT=" + shot})
	t.Logf("screenshot: %s", shot)
}

func mustReq(t *testing.T, url, origin string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req
}
