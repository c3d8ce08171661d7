package proxy

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// eioBackend imitates an Engine.IO server's polling transport: a request
// without sid is a handshake answered with a new sid; one with a sid is
// answered with the backend's name (and 400 for a sid it did not issue).
func eioBackend(tb testing.TB, name string) *httptest.Server {
	tb.Helper()
	var n atomic.Int32
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := r.URL.Query().Get("sid")
		if sid == "" {
			w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
			fmt.Fprintf(w, `0{"sid":"%s-%d","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`, name, n.Add(1))
			return
		}
		if !strings.HasPrefix(sid, name+"-") {
			w.WriteHeader(400)
			_, _ = io.WriteString(w, `{"code":1,"message":"Session ID unknown"}`)
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	tb.Cleanup(s.Close)
	return s
}

func TestStickySid(t *testing.T) { bothFronts(t, testStickySid) }

func testStickySid(t *testing.T) {
	e := newEnv(t, Config{})
	var bs []*backend.Backend
	for i, name := range []string{"x", "y", "z"} {
		bs = append(bs, e.add(t, name, eioBackend(t, name).URL, i+1))
	}
	type session struct{ sid, owner string }
	var sessions []session
	for range 6 {
		res, body := e.get(t, "/socket.io/?EIO=4&transport=polling&t=abc")
		if res.StatusCode != 200 {
			t.Fatalf("handshake %d", res.StatusCode)
		}
		sid := sidFromHandshake([]byte(body))
		if sid == "" {
			t.Fatalf("no sid in %q", body)
		}
		sessions = append(sessions, session{sid, sid[:1]})
	}
	for round := range 3 {
		for _, s := range sessions {
			res, body := e.get(t, "/socket.io/?EIO=4&transport=polling&t=x&sid="+s.sid)
			if res.StatusCode != 200 || body != s.owner {
				t.Fatalf("round %d sid %s reached %q (%d), want %s", round, s.sid, body, res.StatusCode, s.owner)
			}
		}
	}
	if e.p.StickySessions() != 6 {
		t.Fatalf("table has %d", e.p.StickySessions())
	}
	// Unknown sid: answered like Engine.IO does.
	res, body := e.get(t, "/socket.io/?EIO=4&transport=polling&sid=nope")
	if res.StatusCode != 400 || body != `{"code":1,"message":"Session ID unknown"}` || res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("unknown sid: %d %q", res.StatusCode, body)
	}
	// A draining backend gets no new sessions but keeps its own.
	bs[2].SetDraining(true)
	for range 6 {
		_, body := e.get(t, "/socket.io/?EIO=4&transport=polling")
		if strings.Contains(body, `"sid":"z-`) {
			t.Fatal("draining backend got a new session")
		}
	}
	for _, s := range sessions {
		if s.owner == "z" {
			if _, body := e.get(t, "/socket.io/?EIO=4&transport=polling&sid="+s.sid); body != "z" {
				t.Fatalf("draining backend lost its session: %q", body)
			}
		}
	}
	// The backend leaves: its sessions are forgotten.
	e.reg.Remove("y")
	for _, s := range sessions {
		res, _ := e.get(t, "/socket.io/?EIO=4&transport=polling&sid="+s.sid)
		if want := map[bool]int{true: 400, false: 200}[s.owner == "y"]; res.StatusCode != want {
			t.Fatalf("after y left, sid %s: %d want %d", s.sid, res.StatusCode, want)
		}
	}
}

func TestStickyTableBoundsAndExpiry(t *testing.T) {
	t.Parallel()
	st := newStickyTable(100, time.Minute)
	now := time.Unix(1000, 0)
	st.now = func() time.Time { return now }
	b := &backend.Backend{ID: "a"}
	for i := range 1000 {
		now = now.Add(time.Millisecond)
		st.put(fmt.Sprint(i), b)
		if st.len() > 100 {
			t.Fatalf("table grew to %d", st.len())
		}
	}
	if st.get("999") != b {
		t.Fatal("newest entry dropped")
	}
	if st.get("0") != nil {
		t.Fatal("oldest entry kept")
	}
	now = now.Add(2 * time.Minute)
	if st.get("999") != nil {
		t.Fatal("expired entry returned")
	}
}

func TestEIOQuery(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		q     string
		isEIO bool
		sid   string
	}{
		{"", false, ""},
		{"sid=abc", false, "abc"},
		{"EIO=4&transport=polling", true, ""},
		{"EIO=4&transport=polling&sid=Ab-_9", true, "Ab-_9"},
		{"sid=s1&EIO=3", true, "s1"},
		{"xEIO=4&sid=a", false, "a"},
	} {
		isEIO, sid := eioQuery(tc.q)
		if tc.isEIO != isEIO || (isEIO && sid != tc.sid) {
			t.Errorf("%q: got %v %q", tc.q, isEIO, sid)
		}
	}
	for in, want := range map[string]string{
		`0{"sid":"abc","upgrades":[]}`:         "abc",
		`96:0{"sid":"lv_","upgrades":[]}`:      "lv_",
		`0{"upgrades":[],"sid":"q"}`:           "q",
		`0{"sid":""}`:                          "",
		`0{"sid":"a b"}`:                       "",
		`garbage`:                              "",
		`0{"sid":"` + strings.Repeat("a", 200): "",
	} {
		if got := sidFromHandshake([]byte(in)); got != want {
			t.Errorf("%q: %q want %q", in, got, want)
		}
	}
}

func FuzzSidExtraction(f *testing.F) {
	f.Add(`0{"sid":"abc","upgrades":["websocket"]}`, "EIO=4&transport=polling&sid=abc")
	f.Add(`96:0{"sid":"x"}`, "EIO=3&sid=")
	f.Add(``, "&&=&EIO&sid")
	f.Fuzz(func(t *testing.T, body, query string) {
		if sid := sidFromHandshake([]byte(body)); sid != "" && !strings.Contains(body, `"sid":"`+sid+`"`) {
			t.Fatalf("sid %q not in body", sid)
		}
		if isEIO, sid := eioQuery(query); isEIO && !strings.Contains(query, "EIO") || sid != "" && !strings.Contains(query, "sid="+sid) {
			t.Fatalf("query %q gave %v %q", query, isEIO, sid)
		}
	})
}
