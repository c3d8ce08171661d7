package proxy

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestResponseFramingThroughProxy covers the response framings a backend
// may use: close-delimited, chunked with trailers, bodyless statuses.
func TestResponseFramingThroughProxy(t *testing.T) { bothFronts(t, testResponseFramingThroughProxy) }

func testResponseFramingThroughProxy(t *testing.T) {
	closeDelimited := rawBackend(t, func(c net.Conn) {
		if _, err := readRequestHead(c); err != nil {
			return
		}
		_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end")
	})
	e := newEnv(t, Config{})
	e.add(t, "close", closeDelimited, 1)
	for range 2 {
		res, body := e.get(t, "/")
		if res.StatusCode != 200 || body != "until the end" {
			t.Fatalf("close-delimited: %d %q", res.StatusCode, body)
		}
	}

	e2 := newEnv(t, Config{})
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/chunked":
			w.Header().Set("Trailer", "X-Sum")
			w.WriteHeader(200)
			_, _ = io.WriteString(w, "part one, ")
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, "part two")
			w.Header().Set("X-Sum", "42")
		case "/204":
			w.WriteHeader(204)
		case "/304":
			w.Header().Set("Etag", `"x"`)
			w.WriteHeader(304)
		default:
			w.Header().Set("Content-Length", "5")
			_, _ = io.WriteString(w, "hello")
		}
	}))
	t.Cleanup(be.Close)
	e2.add(t, "a", be.URL, 1)
	res, body := e2.get(t, "/chunked")
	if body != "part one, part two" || res.Trailer.Get("X-Sum") != "42" {
		t.Fatalf("chunked: %q trailer %v", body, res.Trailer)
	}
	for _, tc := range []struct {
		path   string
		status int
	}{{"/204", 204}, {"/304", 304}, {"/other", 200}} {
		res, body := e2.get(t, tc.path)
		if res.StatusCode != tc.status || (tc.status != 200 && body != "") || (tc.status == 200 && body != "hello") {
			t.Fatalf("%s: %d %q", tc.path, res.StatusCode, body)
		}
	}
	req, _ := http.NewRequest("HEAD", e2.url+"/other", nil)
	res, body = e2.do(t, req)
	if res.StatusCode != 200 || body != "" || res.ContentLength != 5 {
		t.Fatalf("HEAD: %d %q %d", res.StatusCode, body, res.ContentLength)
	}
}
