package proxy

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var fastAccepted = []string{
	"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n",
	"GET /socket.io/?EIO=4&transport=polling&t=P1x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: node\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
	"HEAD /a%20b?x=%2F HTTP/1.1\r\nHost: [::1]:80\r\nCookie: a=1; b=2\r\nX-Forwarded-For: 1.2.3.4\r\nVia: 1.1 other\r\n\r\n",
	"DELETE /item/1 HTTP/1.1\r\nHost: h\r\nConnection: close\r\nAccept-Language: \xe9t\xe9\r\n\r\n",
	"OPTIONS /x HTTP/1.1\r\nhost: lower\r\nX-Empty:\r\nX-Tab:\tv\t\r\n\r\n",
}

// Requests the fast path must leave to net/http.
var fastRefused = []string{
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello",
	"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nX",
	"GET / HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n",
	"GET / HTTP/1.0\r\nHost: h\r\n\r\n",
	"GET / HTTP/1.1\r\n\r\n",                            // no Host
	"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",      // two Hosts
	"GET / HTTP/1.1\nHost: h\n\n",                       // bare LF
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: 1\r\n 2\r\n\r\n", // obs-fold
	"GET / HTTP/1.1\r\nHost: h\r\nX-A : 1\r\n\r\n",      // space before colon
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\rb\r\n\r\n",    // bare CR
	"GET / HTTP/1.1\r\nHost: h\r\nX-A: a\x00b\r\n\r\n",  // NUL
	"GET http://h/ HTTP/1.1\r\nHost: h\r\n\r\n",         // absolute-form
	"GET //h/x HTTP/1.1\r\nHost: h\r\n\r\n",             // looks like authority
	"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n",              // space in target
	"GET  / HTTP/1.1\r\nHost: h\r\n\r\n",                // double space
	"get / HTTP/1.1\r\nHost: h\r\n\r\n",                 // lowercase method
	"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h\r\nConnection: X-Secret\r\nX-Secret: 1\r\n\r\n",
	"GET / HTTP/1.1\r\nHost: h/x\r\n\r\n", // bad Host
	"GET / HTTP/1.1\r\nHost: h\r\n",       // incomplete
}

func TestFastParseSubset(t *testing.T) {
	t.Parallel()
	var r fastReq
	for _, s := range fastAccepted {
		if !parseFast([]byte(s), &r) || r.size != len(s) {
			t.Errorf("not accepted: %q", s)
		}
	}
	for _, s := range fastRefused {
		if parseFast([]byte(s), &r) {
			t.Errorf("accepted: %q", s)
		}
	}
}

// FuzzFastParse is the differential check of the fast path's parser:
// every head it accepts, net/http accepts too and reads identically
// (method, target, Host, fields, no body, connection close).
func FuzzFastParse(f *testing.F) {
	for _, s := range append(slices.Clone(fastAccepted), fastRefused...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		var r fastReq
		if !parseFast([]byte(in), &r) {
			return
		}
		req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(in)))
		if err != nil {
			t.Fatalf("fast path accepted what net/http refuses (%v): %q", err, in)
		}
		if req.Method != string(r.method) || req.RequestURI != string(r.target) || req.Host != string(r.host) || req.Proto != "HTTP/1.1" {
			t.Fatalf("request line differs: %q %q %q", req.Method, req.RequestURI, req.Host)
		}
		if req.ContentLength != 0 || len(req.TransferEncoding) > 0 || req.Body != http.NoBody {
			t.Fatalf("net/http sees a body: %d %v", req.ContentLength, req.TransferEncoding)
		}
		if req.Close != r.close {
			t.Fatalf("close: net/http %v, fast %v", req.Close, r.close)
		}
		for _, l := range r.fwd {
			name, val, _ := bytes.Cut(l, []byte(":"))
			k := textproto.CanonicalMIMEHeaderKey(string(name))
			if !slices.Contains(req.Header[k], string(trimOWS(val))) {
				t.Fatalf("field %s: net/http %q, fast %q", k, req.Header[k], trimOWS(val))
			}
		}
		for _, v := range r.xff {
			if !slices.Contains(req.Header["X-Forwarded-For"], string(v)) {
				t.Fatalf("X-Forwarded-For differs")
			}
		}
	})
}

// recorder is a backend that records the request lines it receives.
type recorder struct {
	mu    sync.Mutex
	lines []string
}

func (rc *recorder) handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.lines = append(rc.lines, r.Method+" "+r.RequestURI+" body="+string(body))
		rc.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	})
}

func (rc *recorder) take() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	l := rc.lines
	rc.lines = nil
	return l
}

// exchange writes raw, then a closing GET /end, on one connection to url
// and returns the statuses of the responses read until it closes. With
// wait, the connection first serves one GET /warm, whose status comes
// first, and wait runs after that answer (on our front end the next
// request is then the HTTP reactor's, see waitParked). (A half-close would
// end the exchange too, but net/http cancels a request whose client
// half-closed.)
func exchange(tb testing.TB, url, raw string, wait func()) []int {
	tb.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(c)
	var codes []int
	if wait != nil {
		_, _ = io.WriteString(c, "GET /warm HTTP/1.1\r\nHost: h\r\n\r\n")
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			tb.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
		wait()
	}
	_, _ = io.WriteString(c, raw+"GET /end HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
	for {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			return codes
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		codes = append(codes, res.StatusCode)
	}
}

// TestFrontEndsAgree sends the same raw requests (smuggling attempts
// included) to our front end and to plain net/http, both in front of the
// same proxy, and requires the same responses and the same requests at
// the backend.
func TestFrontEndsAgree(t *testing.T) {
	t.Parallel()
	rc := &recorder{}
	be := newKillable(t, rc.handler())
	type front struct {
		name string
		e    *env
	}
	var fronts []front
	for _, name := range []string{"fast", "nethttp"} {
		var e *env
		if name == "fast" {
			e = newEnv(t, Config{NodeID: "n"})
		} else {
			e = newEnvNamed(t, Config{NodeID: "n"}, "x/nethttp")
		}
		e.add(t, "a", be.URL, 1)
		fronts = append(fronts, front{name, e})
	}
	inputs := append(slices.Clone(fastAccepted), fastRefused...)
	inputs = append(inputs,
		"GET /one HTTP/1.1\r\nHost: h\r\n\r\nGET /two HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabcGET /after HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n",
		"POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"GET /x HTTP/1.1\r\nHost: h\r\nVia: 1.1 n\r\n\r\n",
		"GET /"+strings.Repeat("a", 9000)+" HTTP/1.1\r\nHost: h\r\n\r\n",
	)
	// Each input is sent on a new connection, and again on a kept one: on
	// our front end, that one is parked in the HTTP reactor (Linux), which
	// reads the input first.
	for _, kept := range []bool{false, true} {
		for _, in := range inputs {
			var got [2]string
			for i, f := range fronts {
				var wait func()
				if kept {
					wait = func() {}
					if f.e.srv != nil && runtime.GOOS == "linux" {
						wait = func() { f.e.waitParked(t) }
					}
				}
				codes := exchange(t, f.e.url, in, wait)
				got[i] = strings.Join(strings.Fields(strings.Trim(strings.ReplaceAll(strings.Join(rc.take(), "|"), "\n", " "), " ")), " ") + " => " + strings.Trim(strings.Join(strings.Fields(strings.Trim(fmtInts(codes), "[]")), ","), ",")
			}
			if testing.Verbose() {
				t.Logf("kept %v: %q => %s", kept, trunc(in), trunc(got[0]))
			}
			if got[0] != got[1] {
				t.Errorf("kept %v, input %q:\n fast:    %s\n net/http: %s", kept, trunc(in), got[0], got[1])
			}
		}
	}
}

func fmtInts(v []int) string {
	var b strings.Builder
	for _, x := range v {
		b.WriteString(" ")
		b.WriteString(http.StatusText(x))
	}
	return b.String()
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
