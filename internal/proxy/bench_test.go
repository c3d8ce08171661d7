package proxy

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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

// BenchmarkFastGET is one keep-alive GET through the fast front end over
// loopback (client, proxy and backend in this process), with the access
// log off and on (to a discarding JSON handler).
func BenchmarkFastGET(b *testing.B) {
	for _, logged := range []bool{false, true} {
		name := "nolog"
		if logged {
			name = "accesslog"
		}
		b.Run(name, func(b *testing.B) {
			e := newEnvLogged(b, Config{AccessLog: logged}, "x/fast", slog.New(slog.NewJSONHandler(io.Discard, nil)))
			be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, "Hello, World!")
			}))
			b.Cleanup(be.Close)
			e.add(b, "a", be.URL, 1)
			c, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Write(req); err != nil {
					b.Fatal(err)
				}
				res, err := http.ReadResponse(br, nil)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				_ = res.Body.Close()
			}
		})
	}
}

// BenchmarkAccessLogLine is the cost of one access log line to a
// discarding JSON handler.
func BenchmarkAccessLogLine(b *testing.B) {
	p := &Proxy{log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p.logAccess(ctx, "127.0.0.1", "GET", "/", accessNote{status: 200, bytes: 13, backend: "127.0.0.1:9001"}, time.Millisecond)
	}
}
