package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// TestWeightsFollowedExactly: Node backends (stock client) and a Go backend
// (our client) register with weights 1, 2 and 3; 60 requests split 10/20/30.
func TestWeightsFollowedExactly(t *testing.T) {
	hub := startSB(t)
	p1, p2 := freePort(t), freePort(t)
	nodeBackend(t, hub, p1, "WEIGHT=1")
	nodeBackend(t, hub, p2, "WEIGHT=2")
	g := startGoBackend(t, hub, 3)
	hub.waitPool(t, addr(p1), addr(p2), g.Addr)
	// The admin list names the channel session of each (the backend's
	// socket.id, from which its id is derived).
	for _, b := range hub.backends(t) {
		if b.Session == "" || b.ID != "b-"+b.Session || b.Static {
			t.Errorf("/backends row %+v: want the registering session", b)
		}
	}
	counts := map[string]int{}
	for range 60 {
		code, body := httpGet(hub.URL() + "/")
		if code != 200 {
			t.Fatalf("GET / = %d %q", code, body)
		}
		counts[strings.TrimSpace(body)]++
	}
	want := map[string]int{"backend :" + strconv.Itoa(p1): 10, "backend :" + strconv.Itoa(p2): 20, "go :" + strconv.Itoa(g.Port): 30}
	for k, v := range want {
		if counts[k] != v {
			t.Fatalf("counts %v, want %v", counts, want)
		}
	}
}

func addr(port int) string { return "http://127.0.0.1:" + strconv.Itoa(port) }

// TestKilledFrozenAndRestartedBackends: SIGKILL leaves the pool at once
// (TCP notices), SIGSTOP within pingInterval+pingTimeout (the heartbeat
// notices); no request reaches either afterwards; both come back.
func TestKilledFrozenAndRestartedBackends(t *testing.T) {
	hub := startSB(t)
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	nodeBackend(t, hub, p1)
	n2 := nodeBackend(t, hub, p2)
	n3 := nodeBackend(t, hub, p3)
	hub.waitPool(t, addr(p1), addr(p2), addr(p3))

	_ = n2.Cmd.Process.Kill()
	hub.waitPool(t, addr(p1), addr(p3))
	assertOnly(t, hub, 30, p1, p3)

	if err := n3.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n3.Cmd.Process.Signal(syscall.SIGCONT) })
	start := time.Now()
	hub.waitPool(t, addr(p1))
	t.Logf("frozen backend left the pool after %v (pingInterval+pingTimeout = 800ms)", time.Since(start).Round(time.Millisecond))
	assertOnly(t, hub, 30, p1)

	// Restarted: a new process on the killed one's port; the frozen one thaws
	// and its client reconnects and re-announces by itself.
	nodeBackend(t, hub, p2)
	_ = n3.Cmd.Process.Signal(syscall.SIGCONT)
	hub.waitPool(t, addr(p1), addr(p2), addr(p3))
	assertOnly(t, hub, 30, p1, p2, p3)
}

// assertOnly sends n requests and fails unless every one succeeds and only
// the given backends answer.
func assertOnly(t *testing.T, hub *sb, n int, ports ...int) {
	t.Helper()
	allowed := map[string]bool{}
	for _, p := range ports {
		allowed["backend :"+strconv.Itoa(p)] = true
	}
	for i := range n {
		code, body := httpGet(hub.URL() + "/x")
		if code != 200 || !allowed[strings.TrimSpace(body)] {
			t.Fatalf("request %d: %d %q (allowed %v)", i, code, body, ports)
		}
	}
}

func TestEmptyPool503(t *testing.T) {
	hub := startSB(t)
	resp, err := client.Get(hub.URL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("empty pool: %d Retry-After=%q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// TestSocketIOThroughProxy: three Node Socket.IO backends; the stock client
// connects through Switchboard with polling then upgrade, every time, and
// stays on the backend that created its session (no "Session ID unknown").
func TestSocketIOThroughProxy(t *testing.T) {
	hub := startSB(t)
	ports := []int{freePort(t), freePort(t), freePort(t)}
	for _, p := range ports {
		nodeBackend(t, hub, p)
	}
	hub.waitPool(t, addr(ports[0]), addr(ports[1]), addr(ports[2]))
	n := testutil.StartNode(t, "e2e/testdata/sio-through-proxy.js", nil, hub.URL(), "30")
	seen := map[string]bool{}
	for {
		l := n.Expect(t, "", 60*time.Second)
		if strings.HasPrefix(l, "FAIL") {
			t.Fatalf("%s", l)
		}
		if strings.HasPrefix(l, "OK") {
			f := strings.Fields(l)
			if f[2] != f[3] || f[4] != "websocket" {
				t.Fatalf("session moved or not upgraded: %s", l)
			}
			seen[f[2]] = true
		}
		if strings.HasPrefix(l, "DONE") {
			if l != "DONE 30 0" {
				t.Fatalf("%s", l)
			}
			break
		}
	}
	if len(seen) != 3 {
		t.Fatalf("sessions reached %d backends, want 3", len(seen))
	}
}

// TestKillUnderLoad: a backend SIGKILLed under sustained GET load costs the
// clients nothing.
func TestKillUnderLoad(t *testing.T) {
	hub := startSB(t)
	p1, p2, p3 := freePort(t), freePort(t), freePort(t)
	nodeBackend(t, hub, p1)
	nodeBackend(t, hub, p2)
	n3 := nodeBackend(t, hub, p3)
	hub.waitPool(t, addr(p1), addr(p2), addr(p3))

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	stop := make(chan struct{})
	c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer c.CloseIdleConnections()
	for range 8 {
		wg.Go(func() {
			for i := 0; i < 5000; i++ { // bounded
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				req, _ := http.NewRequestWithContext(ctx, "GET", hub.URL()+"/load", nil)
				resp, err := c.Do(req)
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, resp.Status)
					continue
				}
				ok.Add(1)
			}
		})
	}
	testutil.WaitFor(t, "load running", func() bool { return ok.Load() > 200 })
	_ = n3.Cmd.Process.Kill()
	hub.waitPool(t, addr(p1), addr(p2))
	before := ok.Load()
	testutil.WaitFor(t, "load after the kill", func() bool { return ok.Load() > before+500 })
	close(stop)
	wg.Wait()
	t.Logf("requests: %d ok, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed (first: %v)", failed.Load(), firstErr.Load())
	}
}

// TestChannelRulesWithStockClient: token, address rules, the error event
// and `replaced`, as the npm client sees them.
func TestChannelRulesWithStockClient(t *testing.T) {
	hub := startSB(t, "--token", "s3cret")
	n := testutil.StartNode(t, "e2e/testdata/channel-rules.js", nil, hub.URL(), "s3cret")
	res := map[string]map[string]any{}
	for {
		l := n.Expect(t, "", 30*time.Second)
		if strings.HasPrefix(l, "FATAL") {
			t.Fatal(l)
		}
		if l == "DONE" {
			break
		}
		if f := strings.SplitN(l, " ", 3); len(f) == 3 && f[0] == "RES" {
			var v map[string]any
			if err := json.Unmarshal([]byte(f[2]), &v); err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			res[f[1]] = v
		}
	}
	for label, msg := range map[string]string{"no-token": "unauthorized: token required (auth: {token})", "wrong-token": "unauthorized: wrong token"} {
		if res[label]["message"] != msg {
			t.Errorf("%s: %v", label, res[label])
		}
	}
	for _, label := range []string{"template", "no-port", "userinfo", "scheme", "own"} {
		if res[label]["ok"] != false || res[label]["code"] != "BAD_ADDRESS" || res[label]["message"] == "" {
			t.Errorf("%s: %v", label, res[label])
		}
	}
	if res["no-ack"]["code"] != "BAD_ADDRESS" || res["no-ack"]["event"] != "address" {
		t.Errorf("error event: %v", res["no-ack"])
	}
	if res["first"]["ok"] != true || res["second"]["ok"] != true {
		t.Errorf("registrations: %v %v", res["first"], res["second"])
	}
	if res["replaced-error"]["code"] != "REPLACED" {
		t.Errorf("replaced error: %v", res["replaced-error"])
	}
	if res["replaced-disconnect"]["reason"] != "io server disconnect" || res["replaced-disconnect"]["active"] != false {
		t.Errorf("replaced disconnect: %v", res["replaced-disconnect"])
	}
}

// wsThroughSB starts Switchboard with extra flags and one Go echo backend,
// and returns a WebSocket to /ws through it (closed when the test ends).
func wsThroughSB(t *testing.T, extra ...string) (*sb, *ws.Conn) {
	t.Helper()
	hub := startSB(t, extra...)
	g := startGoBackend(t, hub, 1)
	hub.waitPool(t, g.Addr)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws://127.0.0.1:"+strconv.Itoa(hub.Port)+"/ws", nil, ws.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return hub, c
}

// TestShutdownClosesTunnels1001: SIGTERM mid-conversation; the WebSocket
// client gets Close 1001 after intact echo frames.
func TestShutdownClosesTunnels1001(t *testing.T) {
	hub, c := wsThroughSB(t)
	msg := strings.Repeat("x", 1000)
	for i := range 50 {
		if err := c.WriteMessage(ws.OpText, []byte(fmt.Sprint(i, msg))); err != nil {
			t.Fatal(err)
		}
		_, p, err := c.ReadMessage()
		if err != nil || string(p) != fmt.Sprint(i, msg) {
			t.Fatalf("echo %d: %v", i, err)
		}
	}
	// Keep writing while Switchboard shuts down; every frame read back must be intact.
	go func() {
		for i := 0; ; i++ {
			if c.WriteMessage(ws.OpText, []byte(fmt.Sprint("late", i, msg))) != nil {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	done := make(chan struct{})
	go func() { defer close(done); hub.stop(t) }()
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			var ce *ws.CloseError
			if !errors.As(err, &ce) || ce.Code != ws.CloseGoingAway {
				t.Fatalf("read ended with %v, want close 1001", err)
			}
			break
		}
		if !strings.HasSuffix(string(p), msg) {
			t.Fatalf("corrupt frame %q", p[:min(len(p), 40)])
		}
	}
	<-done
}

// TestTunnelIdleTimeout: with --proxy-tunnel-idle-timeout the binary
// closes a WebSocket tunnel once it is idle, and only then.
func TestTunnelIdleTimeout(t *testing.T) {
	const idle = time.Second
	_, c := wsThroughSB(t, "--proxy-tunnel-idle-timeout", idle.String())
	start := time.Now()
	for i := 0; time.Since(start) < 2*idle; i++ {
		if err := c.WriteMessage(ws.OpText, []byte(fmt.Sprint(i))); err != nil {
			t.Fatalf("write %d after %s: %v (closed while active)", i, time.Since(start), err)
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != fmt.Sprint(i) {
			t.Fatalf("echo %d after %s: %v (closed while active)", i, time.Since(start), err)
		}
		time.Sleep(idle / 8)
	}
	_ = c.SetReadDeadline(time.Now().Add(20 * time.Second)) // a hang guard only
	if _, _, err := c.ReadMessage(); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle tunnel not closed: %v", err)
	}
}

// TestLoopGuard: a request that already passed this node gets 508. The
// only backend is a plain reverse proxy pointing back at Switchboard.
func TestLoopGuard(t *testing.T) {
	port := freePort(t)
	target, _ := url.Parse("http://127.0.0.1:" + strconv.Itoa(port))
	loop := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	defer loop.Close()
	hub := startSBOn(t, port, "--backend", loop.URL)
	if bs := hub.backends(t); len(bs) != 1 || !bs[0].Static || bs[0].Session != "" {
		t.Errorf("/backends = %+v, want one static backend without a session", bs)
	}
	code, body := httpGet(hub.URL() + "/")
	if code != http.StatusLoopDetected || !strings.Contains(body, "loop") {
		t.Fatalf("looped request = %d %q, want 508", code, body)
	}
}
