package tracker

import (
	"github.com/switchboard-lb/switchboard/internal/ratelimit"

	"net/http"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// BenchmarkServeList: GET <path>/servers with 30 backends (the body is
// encoded once per change, not per request).
func BenchmarkServeList(b *testing.B) {
	reg := backend.NewRegistry()
	for i := range 30 {
		reg.Add(mkBackend(b, string(rune('A'+i)), 4000+i, "http://pub.example", `{"name":"x"}`))
	}
	tr, err := New(Config{}, reg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	req, _ := http.NewRequest(http.MethodGet, "/tracker/servers", nil)
	rec := newRecorder()
	b.ReportAllocs()
	for b.Loop() {
		rec.body.Reset()
		tr.ServeHTTP(rec, req)
	}
}

// BenchmarkLimiterAllow: the per-IP handshake check.
func BenchmarkLimiterAllow(b *testing.B) {
	l := ratelimit.New(1e9, 1e9, time.Now)
	r := &http.Request{RemoteAddr: "192.0.2.1:5000"}
	b.ReportAllocs()
	for b.Loop() {
		l.Allow(ratelimit.ClientIP(r, nil))
	}
}
