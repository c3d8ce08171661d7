package main

import (
	"context"
	"encoding/json"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

func TestHistQuantiles(t *testing.T) {
	var h Hist
	for i := 1; i <= 10000; i++ {
		h.Record(time.Duration(i) * time.Microsecond)
	}
	for _, tc := range []struct {
		name string
		q    float64
		want time.Duration
	}{
		{"p50", 0.5, 5000 * time.Microsecond},
		{"p99", 0.99, 9900 * time.Microsecond},
		{"max", 1, 10000 * time.Microsecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := h.Quantile(tc.q)
			if err := math.Abs(float64(got-tc.want)) / float64(tc.want); err > 0.01 {
				t.Errorf("Quantile(%v) = %v, want %v ±1%%", tc.q, got, tc.want)
			}
		})
	}
	var o Hist
	o.Record(time.Hour)
	h.Merge(&o)
	if h.Count() != 10001 || h.Quantile(1) != time.Hour {
		t.Errorf("after Merge: count %d max %v", h.Count(), h.Quantile(1))
	}
}

func TestHistIndexMonotonic(t *testing.T) {
	prev := -1
	for v := int64(0); v < 1<<22; v += 1 + v/97 {
		i := histIndex(v)
		if i < prev {
			t.Fatalf("histIndex(%d) = %d < %d", v, i, prev)
		}
		if hv := histValue(i); hv < v {
			t.Fatalf("histValue(histIndex(%d)) = %d < value", v, hv)
		}
		prev = i
	}
}

const wrkSample = `Running 10s test @ http://127.0.0.1:8083/
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  500.00us  20.00ms   90.00%
    Req/Sec    30.00k     1.00k   32.00k    70.00%
  Latency Distribution
     50%    2.00ms
     75%    2.20ms
     90%    2.50ms
     99%    4.12ms
  300000 requests in 10.00s, 40.00MB read
  Non-2xx or 3xx responses: 7
  Socket errors: connect 0, read 2, write 0, timeout 1
Requests/sec:  29999.50
Transfer/sec:      4.00MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	if r.ReqPerSec != 29999.50 || r.P99us != 4120 || r.Non2xx != 7 || r.SockErrs != 3 {
		t.Errorf("parseWrk = %+v", r)
	}
	if _, err := parseWrk("garbage"); err == nil {
		t.Error("parseWrk(garbage): want error")
	}
}

func TestCPUCount(t *testing.T) {
	for in, want := range map[string]int{"0": 1, "1": 1, "0-1": 2, "0,2-3": 3} {
		if got := cpuCount(in); got != want {
			t.Errorf("cpuCount(%q) = %d, want %d", in, got, want)
		}
	}
}

func TestMedian(t *testing.T) {
	if m := median([]float64{3, 1, math.NaN(), 2}); m != 2 {
		t.Errorf("median = %v", m)
	}
	if m := median([]float64{4, 1, 3, 2}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) should be NaN")
	}
}

// TestRateAgainstServer runs the constant-rate generator for a short,
// bounded load against a loopback server (plain and chunked bodies).
func TestRateAgainstServer(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/chunked" {
			w.Write([]byte("part one,"))
			w.(http.Flusher).Flush()
			w.Write([]byte("part two"))
			return
		}
		w.Write(helloBody)
	}))
	defer srv.Close()
	for _, path := range []string{"/", "/chunked"} {
		t.Run(path, func(t *testing.T) {
			res, err := runRate(context.Background(), srv.URL+path, 500, 200*time.Millisecond, 4, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if res.Sent != 100 || res.OK != 100 || res.Errors != 0 || res.Late != 0 {
				t.Errorf("result %+v, want 100 sent and OK", res)
			}
			if res.P99us <= 0 {
				t.Errorf("p99 %v", res.P99us)
			}
		})
	}
}

// TestMiniWebSocketEcho checks the fallback WebSocket implementation
// against itself through a loopback server.
func TestMiniWebSocketEcho(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := miniAccept(w, r)
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, p, err := c.Read()
			if err != nil {
				return
			}
			if c.Write(op, p) != nil {
				return
			}
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := miniDial(ctx, srv.URL+"/ws")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{0, 5, 125, 126, 70000} {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(i)
		}
		if err := c.Write(2, msg); err != nil {
			t.Fatal(err)
		}
		op, p, err := c.Read()
		if err != nil || op != 2 || string(p) != string(msg) {
			t.Fatalf("echo of %d bytes: op %d len %d err %v", n, op, len(p), err)
		}
	}
}

func TestJSONSafe(t *testing.T) {
	type inner struct {
		A float64 `json:"a"`
		B float64 `json:"b,omitempty"`
	}
	v := map[string]any{"x": []inner{{A: math.NaN()}, {A: 1, B: math.Inf(1)}}, "y": &inner{A: 2}}
	b, err := json.Marshal(jsonSafe(v))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"x":[{"a":null},{"a":1,"b":null}],"y":{"a":2}}`
	if string(b) != want {
		t.Errorf("got %s, want %s", b, want)
	}
}
