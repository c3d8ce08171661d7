package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestWeightsFollowedExactly(t *testing.T) { bothFronts(t, testWeightsFollowedExactly) }

func testWeightsFollowedExactly(t *testing.T) {
	e := newEnv(t, Config{})
	for i, w := range []int{5, 1, 1} {
		name := string(rune('a' + i))
		e.add(t, name, namedBackend(t, name).URL, w)
	}
	var got strings.Builder
	for range 14 {
		res, body := e.get(t, "/")
		if res.StatusCode != 200 {
			t.Fatalf("status %d", res.StatusCode)
		}
		got.WriteString(body)
	}
	if got.String() != "aabacaaaabacaa" {
		t.Fatalf("sequence %s", got.String())
	}
	if e.srv != nil {
		if fast, handoffs := e.srv.Stats(); fast != 14 || handoffs != 0 {
			t.Fatalf("fast path served %d, handed off %d", fast, handoffs)
		}
	}
}

func TestEmptyPool503(t *testing.T) { bothFronts(t, testEmptyPool503) }

func testEmptyPool503(t *testing.T) {
	e := newEnv(t, Config{})
	res, body := e.get(t, "/x")
	if res.StatusCode != 503 || res.Header.Get("Retry-After") != "1" || body == "" {
		t.Fatalf("status %d retry-after %q body %q", res.StatusCode, res.Header.Get("Retry-After"), body)
	}
	if st := e.p.Stats(); st.Unavailable != 1 || st.BadGateway != 0 || st.Retries != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRequestAndResponseForwarded(t *testing.T) { bothFronts(t, testRequestAndResponseForwarded) }

func testRequestAndResponseForwarded(t *testing.T) {
	e := newEnv(t, Config{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.Header().Set("X-Uri", r.RequestURI)
		w.Header().Set("X-Host", r.Host)
		w.Header().Set("X-Len", fmt.Sprint(len(body), " ", r.ContentLength, " ", strings.Join(r.TransferEncoding, ",")))
		w.Header().Add("Set-Cookie", "a=1")
		w.Header().Add("Set-Cookie", "b=2")
		w.WriteHeader(201)
		_, _ = w.Write(body)
	}))
	t.Cleanup(be.Close)
	e.add(t, "a", be.URL, 1)

	req, _ := http.NewRequest("POST", e.url+"/p/a%2Fth?q=1&r=%20", strings.NewReader("hello body"))
	res, body := e.do(t, req)
	if e.srv != nil {
		if _, handoffs := e.srv.Stats(); handoffs != 1 {
			t.Fatalf("a request with a body was not handed to net/http (%d)", handoffs)
		}
	}
	if res.StatusCode != 201 || body != "hello body" {
		t.Fatalf("status %d body %q", res.StatusCode, body)
	}
	if res.Header.Get("X-Uri") != "/p/a%2Fth?q=1&r=%20" || res.Header.Get("X-Method") != "POST" {
		t.Fatalf("uri %q", res.Header.Get("X-Uri"))
	}
	if res.Header.Get("X-Host") != strings.TrimPrefix(e.url, "http://") {
		t.Fatalf("host %q", res.Header.Get("X-Host"))
	}
	if got := res.Header.Values("Set-Cookie"); len(got) != 2 {
		t.Fatalf("cookies %v", got)
	}
	// Streamed (chunked) request body.
	pr, pw := io.Pipe()
	go func() {
		_, _ = io.WriteString(pw, "part1-")
		_, _ = io.WriteString(pw, "part2")
		_ = pw.Close()
	}()
	req, _ = http.NewRequest("PUT", e.url+"/up", pr)
	res, body = e.do(t, req)
	if body != "part1-part2" || res.Header.Get("X-Len") != "11 -1 chunked" {
		t.Fatalf("chunked upload: %q %q", body, res.Header.Get("X-Len"))
	}
	// HEAD keeps Content-Length and has no body; the connection stays usable.
	req, _ = http.NewRequest("HEAD", e.url+"/h", nil)
	res, body = e.do(t, req)
	if res.StatusCode != 201 || body != "" {
		t.Fatalf("HEAD %d %q", res.StatusCode, body)
	}
	for range 3 {
		if res, body := e.get(t, "/again"); res.StatusCode != 201 || body != "" {
			t.Fatalf("after HEAD %d %q", res.StatusCode, body)
		}
	}
}

func TestHopByHopStripped(t *testing.T) { bothFronts(t, testHopByHopStripped) }

func testHopByHopStripped(t *testing.T) {
	e := newEnv(t, Config{})
	got := make(chan http.Header, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Clone()
		w.Header().Set("Connection", "X-Secret-Hop")
		w.Header().Set("X-Secret-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("Proxy-Authenticate", "Basic")
		w.Header().Set("X-End", "kept")
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(be.Close)
	e.add(t, "a", be.URL, 1)
	res, _ := e.get(t, "/",
		"Connection", "X-Hop-A, keep-alive", "X-Hop-A", "1", "Keep-Alive", "timeout=5",
		"Te", "trailers", "Proxy-Authorization", "secret", "Trailer", "X", "X-End", "kept", "Upgrade", "h2c")
	h := wait(t, got, "backend request")
	for _, k := range []string{"X-Hop-A", "Keep-Alive", "Te", "Proxy-Authorization", "Trailer", "Upgrade", "Connection"} {
		if v := h.Get(k); v != "" {
			t.Errorf("request header %s forwarded: %q", k, v)
		}
	}
	if h.Get("X-End") != "kept" {
		t.Error("end-to-end request header lost")
	}
	if !strings.HasPrefix(h.Get("Via"), "1.1 ") {
		t.Errorf("Via %q", h.Get("Via"))
	}
	for _, k := range []string{"X-Secret-Hop", "Keep-Alive", "Proxy-Authenticate"} {
		if v := res.Header.Get(k); v != "" {
			t.Errorf("response header %s forwarded: %q", k, v)
		}
	}
	if res.Header.Get("X-End") != "kept" {
		t.Error("end-to-end response header lost")
	}
}

func TestXForwardedTrust(t *testing.T) { bothFronts(t, testXForwardedTrust) }

func testXForwardedTrust(t *testing.T) {
	for _, tc := range []struct {
		name      string
		trusted   []string
		wantXFF   string
		wantProto string
		wantHost  string
	}{
		{"untrusted", nil, "127.0.0.1", "http", ""},
		{"untrusted other net", []string{"10.0.0.0/8"}, "127.0.0.1", "http", ""},
		{"trusted", []string{"127.0.0.0/8"}, "203.0.113.9, 127.0.0.1", "https", "public.example"},
		{"trusted single ip", []string{"::1", "127.0.0.1"}, "203.0.113.9, 127.0.0.1", "https", "public.example"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, Config{TrustedProxies: tc.trusted})
			got := make(chan http.Header, 1)
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got <- r.Header.Clone() }))
			t.Cleanup(be.Close)
			e.add(t, "a", be.URL, 1)
			e.get(t, "/", "X-Forwarded-For", "203.0.113.9", "X-Forwarded-Proto", "https", "X-Forwarded-Host", "public.example")
			h := wait(t, got, "request")
			host := tc.wantHost
			if host == "" {
				host = strings.TrimPrefix(e.url, "http://")
			}
			if h.Get("X-Forwarded-For") != tc.wantXFF || h.Get("X-Forwarded-Proto") != tc.wantProto || h.Get("X-Forwarded-Host") != host {
				t.Fatalf("got XFF %q proto %q host %q", h.Get("X-Forwarded-For"), h.Get("X-Forwarded-Proto"), h.Get("X-Forwarded-Host"))
			}
			if len(h.Values("X-Forwarded-For")) != 1 {
				t.Fatalf("XFF values %v", h.Values("X-Forwarded-For"))
			}
		})
	}
	if _, err := New(Config{TrustedProxies: []string{"nonsense", "10.0.0.0/8"}}, nil, nil, nil); err == nil || !strings.Contains(err.Error(), "nonsense") {
		t.Fatalf("bad CIDR accepted: %v", err)
	}
}

// TestLoopGuard points the proxy at itself: the request comes back with
// our Via and is refused with 508, which the outer pass forwards.
func TestLoopGuard(t *testing.T) { bothFronts(t, testLoopGuard) }

func testLoopGuard(t *testing.T) {
	e := newEnv(t, Config{NodeID: "node-loop"})
	e.add(t, "self", e.url, 1)
	res, body := e.get(t, "/")
	if res.StatusCode != http.StatusLoopDetected {
		t.Fatalf("status %d %q", res.StatusCode, body)
	}
	mustContain(t, body, "node-loop")
	// Another node's Via is fine.
	e2 := newEnv(t, Config{NodeID: "node-b"})
	e2.add(t, "a", namedBackend(t, "a").URL, 1)
	if res, body := e2.get(t, "/", "Via", "1.1 node-a, 1.0 other (comment)"); res.StatusCode != 200 || body != "a" {
		t.Fatalf("foreign Via refused: %d", res.StatusCode)
	}
	if res, _ := e2.get(t, "/", "Via", "1.0 x, 1.1 node-b"); res.StatusCode != 508 {
		t.Fatalf("own Via: %d", res.StatusCode)
	}
	// Each proxy counts the 508 it wrote itself, not the one it forwarded.
	if a, b := e.p.Stats().LoopDetected, e2.p.Stats().LoopDetected; a != 1 || b != 1 {
		t.Fatalf("loops counted: %d and %d, want 1 and 1", a, b)
	}
}

// TestSSELockstep: each event reaches the client before the backend
// writes the next one.
func TestSSELockstep(t *testing.T) { bothFronts(t, testSSELockstep) }

func testSSELockstep(t *testing.T) {
	e := newEnv(t, Config{})
	next := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for i := range 5 {
			select {
			case <-next:
			case <-r.Context().Done():
				return
			}
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(be.Close)
	e.add(t, "a", be.URL, 1)
	res, err := e.c.Get(e.url + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	br := bufio.NewReader(res.Body)
	for i := range 5 {
		next <- struct{}{}
		lines := make(chan string, 1)
		go func() {
			l, _ := br.ReadString('\n')
			_, _ = br.ReadString('\n')
			lines <- l
		}()
		if l := wait(t, lines, fmt.Sprintf("event %d", i)); l != fmt.Sprintf("data: %d\n", i) {
			t.Fatalf("event %d: %q", i, l)
		}
	}
}

func TestDialRefusedRetriedAndCircuit(t *testing.T) { bothFronts(t, testDialRefusedRetriedAndCircuit) }

func testDialRefusedRetriedAndCircuit(t *testing.T) {
	e := newEnv(t, Config{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + ln.Addr().String()
	_ = ln.Close()
	dead := e.add(t, "dead", deadURL, 5)
	e.add(t, "b", namedBackend(t, "b").URL, 1)
	for range 6 {
		res, body := e.get(t, "/")
		if res.StatusCode != 200 || body != "b" {
			t.Fatalf("%d %q", res.StatusCode, body)
		}
	}
	if dead.DownUntil().IsZero() || dead.Available() {
		t.Fatal("refused backend not taken out of rotation")
	}
	if st := e.p.Stats(); st.Retries == 0 || st.BadGateway != 0 || st.Unavailable != 0 {
		t.Fatalf("stats %+v: want the refused dial counted as a retry, and no error answer", st)
	}
}

// rawBackend accepts connections and hands each to fn.
func rawBackend(tb testing.TB, fn func(net.Conn)) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); fn(c) })
		}
	})
	tb.Cleanup(func() { _ = ln.Close(); wg.Wait() })
	return "http://" + ln.Addr().String()
}

// readRequestHead consumes one request head (and nothing else).
func readRequestHead(c net.Conn) (*http.Request, error) {
	return http.ReadRequest(bufio.NewReader(c))
}

func TestDiesBeforeResponse(t *testing.T) { bothFronts(t, testDiesBeforeResponse) }

func testDiesBeforeResponse(t *testing.T) {
	var hits atomic.Int32
	dying := rawBackend(t, func(c net.Conn) {
		if _, err := readRequestHead(c); err == nil {
			hits.Add(1)
		}
	})
	t.Run("idempotent retried", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		e.add(t, "dying", dying, 3)
		e.add(t, "b", namedBackend(t, "b").URL, 1)
		for range 4 {
			res, body := e.get(t, "/")
			if res.StatusCode != 200 || body != "b" {
				t.Fatalf("%d %q", res.StatusCode, body)
			}
		}
	})
	t.Run("POST 502", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		e.add(t, "dying", dying, 1)
		req, _ := http.NewRequest("POST", e.url+"/", strings.NewReader("x"))
		if res, _ := e.do(t, req); res.StatusCode != 502 {
			t.Fatalf("POST status %d", res.StatusCode)
		}
	})
	t.Run("GET retried only once", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{})
		e.add(t, "dying", dying, 1)
		e.add(t, "dying2", dying, 1)
		if res, _ := e.get(t, "/"); res.StatusCode != 502 {
			t.Fatalf("status %d", res.StatusCode)
		}
	})
}

func TestTimeout504(t *testing.T) { bothFronts(t, testTimeout504) }

func testTimeout504(t *testing.T) {
	e := newEnv(t, Config{ResponseHeaderTimeout: 50 * time.Millisecond})
	release := make(chan struct{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(be.Close)
	t.Cleanup(func() { close(release) })
	e.add(t, "slow", be.URL, 1)
	if res, _ := e.get(t, "/"); res.StatusCode != 504 {
		t.Fatalf("status %d", res.StatusCode)
	}
}

func TestKillBackendUnderLoad(t *testing.T) { bothFronts(t, testKillBackendUnderLoad) }

func testKillBackendUnderLoad(t *testing.T) {
	e := newEnv(t, Config{})
	var ks []*killable
	for i := range 3 {
		name := string(rune('a' + i))
		k := newKillable(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		ks = append(ks, k)
		e.add(t, name, k.URL, 1)
	}
	const workers, perWorker = 8, 300
	var done atomic.Int32
	var failures atomic.Int32
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range perWorker {
				res, err := e.c.Get(e.url + "/")
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					failures.Add(1)
				}
				if done.Add(1) == workers*perWorker/3 {
					once.Do(func() { close(killAt) })
				}
			}
		})
	}
	wait(t, killAt, "load to start")
	ks[1].kill()
	wg.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d of %d requests failed after killing a backend", f, workers*perWorker)
	}
}
