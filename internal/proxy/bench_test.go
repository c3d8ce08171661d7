package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// BenchmarkServeHTTP forwards GET / to a loopback backend answering 13
// bytes, calling ServeHTTP directly (no front-end server).
func BenchmarkServeHTTP(b *testing.B) {
	e := newEnv(b, Config{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Hello, World!")
	}))
	b.Cleanup(be.Close)
	e.add(b, "a", be.URL, 1)
	req := httptest.NewRequest("GET", "/", nil)
	req.RemoteAddr = "127.0.0.1:1234"
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		e.p.ServeHTTP(w, req)
	}
}
