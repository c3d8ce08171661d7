package tracker

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestNodeServersJoinedLeft: the stock npm client gets `servers` on
// connect, then `server_joined` / `server_left` as the registry changes;
// a backend without a public URL is not shown.
func TestNodeServersJoinedLeft(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, transports string }{
		{name: "default (polling, upgrade)"},
		{name: "websocket", transports: "websocket"},
		{name: "polling", transports: "polling"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := backend.NewRegistry()
			reg.Add(mkBackend(t, "a", 4001, "http://a.example:4001", `{"name":"node-a"}`))
			reg.Add(mkBackend(t, "hidden", 4002, "", ""))
			e := startTracker(t, Config{}, reg, true)
			var env []string
			if tc.transports != "" {
				env = append(env, "TRANSPORTS="+tc.transports)
			}
			n := testutil.StartNode(t, clientJS, env, e.ts.URL, e.tr.Path())
			// socket.io's order: "connect" fires on the CONNECT reply, the list follows it.
			expectLine(t, n, "connect 1")
			expectLine(t, n, `servers [{"id":"a","url":"http://a.example:4001","meta":{"name":"node-a"}}]`)

			reg.Add(mkBackend(t, "hidden2", 4003, "", "")) // not shown: no event
			reg.Add(mkBackend(t, "b", 4004, "https://b.example", ""))
			expectLine(t, n, `server_joined {"id":"b","url":"https://b.example","meta":null}`)
			reg.Remove("hidden")
			reg.Remove("a")
			expectLine(t, n, `server_left {"id":"a","url":"http://a.example:4001","meta":{"name":"node-a"}}`)
			// Replacing a backend (same address): it leaves, then the new one joins.
			reg.Add(mkBackend(t, "b2", 4004, "https://b2.example", `[1]`))
			expectLine(t, n, `server_left {"id":"b","url":"https://b.example","meta":null}`)
			expectLine(t, n, `server_joined {"id":"b2","url":"https://b2.example","meta":[1]}`)
			if s := e.tr.Stats(); s.Servers != 1 || s.Clients != 1 || s.Changes != 4 {
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestShowInternal: with ShowInternal, changes carry the internal address
// and a backend without a public URL is listed with its address.
func TestShowInternal(t *testing.T) {
	t.Parallel()
	reg := backend.NewRegistry()
	reg.Add(mkBackend(t, "a", 4001, "", ""))
	e := startTracker(t, Config{ShowInternal: true}, reg, true)
	g := dialGo(t, e, nil)
	g.expect(t, `servers [{"id":"a","address":"http://127.0.0.1:4001","url":"http://127.0.0.1:4001","meta":null}]`)
	reg.Add(mkBackend(t, "b", 4002, "https://pub.example", ""))
	g.expect(t, `server_joined {"id":"b","address":"http://127.0.0.1:4002","url":"https://pub.example","meta":null}`)
	reg.Remove("a")
	g.expect(t, `server_left {"id":"a","address":"http://127.0.0.1:4001","url":"http://127.0.0.1:4001","meta":null}`)
}

// TestServersJSON: GET <path>/servers returns the same list as `servers`.
func TestServersJSON(t *testing.T) {
	t.Parallel()
	reg := backend.NewRegistry()
	reg.Add(mkBackend(t, "a", 4001, "http://a.example:4001", `{"name":"node-a"}`))
	reg.Add(mkBackend(t, "hidden", 4002, "", ""))
	e := startTracker(t, Config{AllowedOrigins: []string{"https://page.example"}}, reg, true)

	get := func(method, origin string) (*http.Response, string) {
		req, _ := http.NewRequest(method, e.ts.URL+"/tracker/servers", nil)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		return do(t, req)
	}
	res, body := get(http.MethodGet, "")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/json" || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET: %d %v", res.StatusCode, res.Header)
	}
	if want := `[{"id":"a","url":"http://a.example:4001","meta":{"name":"node-a"}}]` + "\n"; body != want {
		t.Fatalf("body %q, want %q", body, want)
	}
	if res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Fatal("CORS header without Origin")
	}

	// Changes show up once the fan-out applied them (a tracker client's
	// server_joined is the signal).
	g := dialGo(t, e, nil)
	recv(t, g.events, "servers")
	reg.Add(mkBackend(t, "b", 4003, "http://b.example:4003", ""))
	recv(t, g.events, "server_joined")
	_, body = get(http.MethodGet, "")
	var list []entry
	if err := json.Unmarshal([]byte(body), &list); err != nil || len(list) != 2 || list[1].ID != "b" {
		t.Fatalf("after join: %q %v", body, err)
	}

	res, _ = get(http.MethodGet, "https://page.example")
	if res.StatusCode != 200 || res.Header.Get("Access-Control-Allow-Origin") != "https://page.example" {
		t.Fatalf("allowed origin: %d %v", res.StatusCode, res.Header)
	}
	res, _ = get(http.MethodGet, "https://evil.example")
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %d", res.StatusCode)
	}
	res, body = get(http.MethodHead, "")
	if res.StatusCode != 200 || body != "" {
		t.Fatalf("HEAD: %d %q", res.StatusCode, body)
	}
	res, _ = get(http.MethodPost, "")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("POST: %d", res.StatusCode)
	}
	// ServersHandler is the same thing for a mux that routes it separately.
	rec := newRecorder()
	req, _ := http.NewRequest(http.MethodGet, "/anything", nil)
	e.tr.ServersHandler().ServeHTTP(rec, req)
	if rec.code != 200 || !strings.Contains(rec.body.String(), `"id":"b"`) {
		t.Fatalf("ServersHandler: %d %q", rec.code, rec.body.String())
	}
}

// TestOriginRejection: a browser origin other than the tracker's own is
// refused (polling handshake, WebSocket, and through the npm client) unless
// listed; a listed one gets CORS headers and a preflight answer.
func TestOriginRejection(t *testing.T) {
	t.Parallel()
	e := startTracker(t, Config{AllowedOrigins: []string{"https://page.example"}}, nil, true)
	self := "http://" + host(t, e.ts.URL)

	for _, tc := range []struct {
		name, origin string
		code         int
		cors         bool
	}{
		{name: "no origin (not a browser)", code: 200},
		{name: "same origin", origin: self, code: 200},
		{name: "listed origin", origin: "https://page.example", code: 200, cors: true},
		{name: "listed origin, other case", origin: "HTTPS://PAGE.example", code: 200, cors: true},
		{name: "foreign origin", origin: "https://evil.example", code: 403},
		{name: "same host other port", origin: "http://127.0.0.1:1", code: 403},
		{name: "null origin", origin: "null", code: 403},
	} {
		res, body := handshake(t, e, tc.origin, nil)
		if res.StatusCode != tc.code {
			t.Errorf("%s: %d %q, want %d", tc.name, res.StatusCode, body, tc.code)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); (got != "") != tc.cors {
			t.Errorf("%s: Access-Control-Allow-Origin %q", tc.name, got)
		}
	}

	req, _ := http.NewRequest(http.MethodOptions, e.ts.URL+"/tracker/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", "https://page.example")
	req.Header.Set("Access-Control-Request-Headers", "x-custom")
	res, _ := do(t, req)
	if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Headers") != "x-custom" {
		t.Fatalf("preflight: %d %v", res.StatusCode, res.Header)
	}
	req.Header.Set("Origin", "https://evil.example")
	if res, _ = do(t, req); res.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign preflight: %d", res.StatusCode)
	}

	// The npm client over WebSocket: a foreign Origin is refused, the
	// listed one and the tracker's own are accepted.
	for _, tc := range []struct{ origin, want string }{
		{"https://evil.example", "connect_error 1 websocket error"},
		{"https://page.example", "connect 1"},
		{self, "connect 1"},
	} {
		n := testutil.StartNode(t, clientJS, []string{"TRANSPORTS=websocket", "NO_RECONNECT=1", "ORIGIN=" + tc.origin}, e.ts.URL, "/tracker")
		got := n.Expect(t, strings.Fields(tc.want)[0], waitFor)
		if !strings.HasPrefix(got, tc.want) {
			t.Fatalf("origin %s: %q, want %q", tc.origin, got, tc.want)
		}
	}
	if s := e.tr.Stats(); s.OriginRefused < 4 {
		t.Fatalf("OriginRefused %d", s.OriginRefused)
	}
}

// TestNodeRateLimit: the npm client's third connection from one IP within
// the burst is refused (429), and counted.
func TestNodeRateLimit(t *testing.T) {
	t.Parallel()
	e := startTracker(t, Config{RatePerSecond: 0.001, Burst: 2}, nil, true)
	n := testutil.StartNode(t, clientJS, []string{"TRANSPORTS=websocket", "CONNECTIONS=3"}, e.ts.URL, "/tracker")
	n.Expect(t, "connect 1", waitFor)
	n.Expect(t, "connect 2", waitFor)
	if got := n.Expect(t, "connect_error 3", waitFor); !strings.HasPrefix(got, "connect_error 3 websocket error") {
		t.Fatalf("third connection: %q", got)
	}
	n.Expect(t, "done", waitFor)
	if res, _ := handshake(t, e, "", nil); res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Fatalf("polling handshake: %d", res.StatusCode)
	}
	if s := e.tr.Stats(); s.RateLimited != 2 {
		t.Fatalf("RateLimited %d", s.RateLimited)
	}
}

// TestMaxClients: past MaxClients sessions, handshakes get 503.
func TestMaxClients(t *testing.T) {
	t.Parallel()
	e := startTracker(t, Config{MaxClients: 1}, nil, true)
	dialGo(t, e, nil)
	if res, _ := handshake(t, e, "", nil); res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second session: %d", res.StatusCode)
	}
	if s := e.tr.Stats(); s.Full != 1 || s.Sessions != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestNodeFlood: a client emitting far more than EventRate events is
// disconnected by the server (the npm client does not reconnect then), on
// either transport.
func TestNodeFlood(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"websocket", "polling"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			e := startTracker(t, Config{EventRate: 5, EventBurst: 10}, nil, true)
			n := testutil.StartNode(t, clientJS, []string{"TRANSPORTS=" + transport, "FLOOD=200"}, e.ts.URL, "/tracker")
			n.Expect(t, "connect 1", waitFor)
			n.Expect(t, "flooded", waitFor)
			if got := n.Expect(t, "disconnect", waitFor); got != "disconnect 1 io server disconnect" {
				t.Fatalf("got %q", got)
			}
			if s := e.tr.Stats(); s.Floods != 1 || s.UnknownEvents < 10 { // the CONNECT took the 11th token
				t.Fatalf("stats %+v", s)
			}
		})
	}
}

// TestNodeReadOnly: events a tracker client emits, including the control
// channel's own event names, change nothing: the pool is the same, other
// clients receive nothing, and an ack (when asked) says READ_ONLY.
func TestNodeReadOnly(t *testing.T) {
	t.Parallel()
	reg := backend.NewRegistry()
	reg.Add(mkBackend(t, "a", 4001, "http://a.example", ""))
	e := startTracker(t, Config{}, reg, true)
	watcher := dialGo(t, e, nil)
	watcher.expect(t, `servers [{"id":"a","url":"http://a.example","meta":null}]`)
	before := reg.Snapshot()

	emits := `[["address","http://127.0.0.1:4999",{"url":"http://evil.example"}],["server_left",{"id":"a"}],` +
		`["server_joined",{"id":"x","url":"http://evil.example"}],["servers",[]],["broadcast",{"channel":"*","data":"hi"}],` +
		`["join_room","lobby"],["message",{"to":"bob","data":1}]]`
	n := testutil.StartNode(t, clientJS, []string{"TRANSPORTS=websocket", "EMIT=" + emits}, e.ts.URL, "/tracker")
	n.Expect(t, "connect 1", waitFor)
	var evs []any
	if err := json.Unmarshal([]byte(emits), &evs); err != nil {
		t.Fatal(err)
	}
	for range evs {
		got := next(t, n)
		if strings.HasPrefix(got, "servers ") {
			got = next(t, n)
		}
		if !strings.HasPrefix(got, "ack ") || !strings.HasSuffix(got, ` {"ok":false,"code":"READ_ONLY","message":"the tracker is read-only: it accepts no events"}`) {
			t.Fatalf("ack: %q", got)
		}
	}
	expectLine(t, n, "emitted")

	if after := reg.Snapshot(); !slices.Equal(before, after) {
		t.Fatalf("pool changed: %v -> %v", before, after)
	}
	// The watcher got nothing in between: its next event is this change.
	reg.Add(mkBackend(t, "b", 4002, "http://b.example", ""))
	watcher.expect(t, `server_joined {"id":"b","url":"http://b.example","meta":null}`)
	if s := e.tr.Stats(); s.UnknownEvents != int64(len(evs)) || s.Floods != 0 || s.Servers != 2 {
		t.Fatalf("stats %+v", s)
	}
}

// TestResyncAfterOverflow: when more changes pile up than MaxPending
// before the fan-out runs, clients get one whole `servers` list instead.
func TestResyncAfterOverflow(t *testing.T) {
	t.Parallel()
	reg := backend.NewRegistry()
	e := startTracker(t, Config{MaxPending: 2}, reg, false)
	g := dialGo(t, e, nil)
	g.expect(t, `servers []`)
	for i, id := range []string{"a", "b", "c", "d"} {
		reg.Add(mkBackend(t, id, 4001+i, "http://"+id+".example", ""))
	}
	e.run(t)
	g.expect(t, `servers [{"id":"a","url":"http://a.example","meta":null},{"id":"b","url":"http://b.example","meta":null},`+
		`{"id":"c","url":"http://c.example","meta":null},{"id":"d","url":"http://d.example","meta":null}]`)
	reg.Remove("c")
	g.expect(t, `server_left {"id":"c","url":"http://c.example","meta":null}`)
	if s := e.tr.Stats(); s.Resyncs != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestSlowClientCutOff: a polling client that never polls fills its queue
// and is cut off; the others still get every change.
func TestSlowClientCutOff(t *testing.T) {
	t.Parallel()
	reg := backend.NewRegistry()
	e := startTracker(t, Config{SendQueue: 2}, reg, true)
	fast := dialGo(t, e, nil)
	fast.expect(t, "servers []")

	// A raw polling session: handshake, CONNECT, then no GET ever again.
	res, body := handshake(t, e, "", nil)
	if res.StatusCode != 200 {
		t.Fatalf("handshake %d", res.StatusCode)
	}
	var open struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal([]byte(strings.TrimPrefix(body, "0")), &open); err != nil {
		t.Fatalf("open packet %q: %v", body, err)
	}
	req, _ := http.NewRequest(http.MethodPost, e.ts.URL+"/tracker/?EIO=4&transport=polling&sid="+open.SID, strings.NewReader("40"))
	if res, _ := do(t, req); res.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", res.StatusCode)
	}
	for i := range 5 {
		id := string(rune('a' + i))
		reg.Add(mkBackend(t, id, 4001+i, "http://"+id+".example", ""))
		fast.expect(t, `server_joined {"id":"`+id+`","url":"http://`+id+`.example","meta":null}`)
	}
	if s := e.tr.Stats(); s.SlowConsumers != 1 || s.Clients != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestConfigErrors: bad origins and proxies are all reported by New.
func TestConfigErrors(t *testing.T) {
	t.Parallel()
	_, err := New(Config{AllowedOrigins: []string{"example.com", "https://ok.example", "https://x.example/app"}, TrustedProxies: []string{"nope"}},
		backend.NewRegistry(), nil)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`"example.com"`, `"https://x.example/app"`, `"nope"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %s", err, want)
		}
	}
}

// TestCloseIdempotent: Close with connected clients returns, twice; Run
// after Close returns at once.
func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	e := startTracker(t, Config{}, nil, true)
	g := dialGo(t, e, nil)
	recv(t, g.events, "servers")
	e.tr.Close()
	e.tr.Close()
	if err := e.tr.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	recv(t, g.gone, "disconnect")
	_ = sio.ReasonServerShutdown
}

// TestShowsOnlyBackendsTakingWork: a backend that drains or fails its
// health checks leaves the clients' list (server_left) while it stays in
// the pool, and comes back (server_joined) when it takes work again.
func TestShowsOnlyBackendsTakingWork(t *testing.T) {
	t.Parallel()
	reg := backend.NewRegistry()
	a := mkBackend(t, "a", 4001, "http://a.example", "")
	reg.Add(a)
	e := startTracker(t, Config{}, reg, true)
	g := dialGo(t, e, nil)
	const entryA = `{"id":"a","url":"http://a.example","meta":null}`
	g.expect(t, `servers [`+entryA+`]`)

	a.SetDraining(true)
	reg.Touch(a)
	g.expect(t, `server_left `+entryA)
	if _, body := do(t, mustReq(t, e.ts.URL+"/tracker/servers", "")); body != "[]\n" {
		t.Fatalf("list while draining: %q", body)
	}
	reg.Touch(a) // no change to show: nothing is sent
	a.SetDraining(false)
	reg.Touch(a)
	g.expect(t, `server_joined `+entryA)

	a.SetHealthy(false)
	reg.Touch(a)
	g.expect(t, `server_left `+entryA)
	// Removed while hidden: clients already lost it, nothing is sent.
	reg.Remove("a")
	reg.Add(mkBackend(t, "b", 4002, "http://b.example", ""))
	g.expect(t, `server_joined {"id":"b","url":"http://b.example","meta":null}`)
	if st := e.tr.Stats(); st.Servers != 1 {
		t.Fatalf("servers %d", st.Servers)
	}
}
