package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

// parseAll parses one response and its body from s with our parser.
func parseAll(s string, method string) (h respHead, hdr http.Header, body []byte, trailer http.Header, err error) {
	br := bufio.NewReaderSize(strings.NewReader(s), 256)
	hdr = http.Header{}
	if err = readHead(br, &h, hdr, 4096); err != nil {
		return
	}
	trailer = http.Header{}
	b := newBodyReader(br, &h, method, trailer, 4096)
	var out bytes.Buffer
	for {
		p, e := b.next(7)
		if e == io.EOF {
			break
		}
		if e != nil {
			err = e
			return
		}
		out.Write(p)
		if e := b.consume(len(p)); e != nil {
			err = e
			return
		}
	}
	body = out.Bytes()
	return
}

func TestResponseParser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, method string
		status           int
		body             string
		close            bool
		err              error
		hdr              map[string]string
	}{
		{name: "content-length", in: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloEXTRA", status: 200, body: "hello", hdr: map[string]string{"X-A": "b", "Content-Length": "5"}},
		{name: "lowercase names, bare LF", in: "HTTP/1.1 404 Not Found\ncontent-type: text/plain\ncontent-length: 2\n\nno", status: 404, body: "no", hdr: map[string]string{"Content-Type": "text/plain"}},
		{name: "chunked with trailer and extension", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-T: v\r\n\r\n", status: 200, body: "hello world"},
		{name: "until close", in: "HTTP/1.1 200 OK\r\n\r\nstream until EOF", status: 200, body: "stream until EOF", close: true},
		{name: "http/1.0", in: "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x", close: true},
		{name: "http/1.0 keep-alive", in: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "connection close", in: "HTTP/1.1 200 OK\r\nConnection: close, X-Hop\r\nX-Hop: 1\r\nContent-Length: 0\r\n\r\n", status: 200, close: true, hdr: map[string]string{"X-Hop": ""}},
		{name: "interim 100 skipped", in: "HTTP/1.1 100 Continue\r\nX-I: 1\r\n\r\nHTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n", status: 204, hdr: map[string]string{"X-I": ""}},
		{name: "HEAD has no body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", method: "HEAD", status: 200},
		{name: "TE and CL: TE wins, no reuse", in: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n", status: 200, body: "x", close: true, hdr: map[string]string{"Content-Length": ""}},
		{name: "duplicate equal CL", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", status: 200, body: "x"},
		{name: "conflicting CL", in: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", err: errBadLength},
		{name: "negative CL", in: "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", err: errBadLength},
		{name: "obs-fold", in: "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\n\r\n", err: errMalformed},
		{name: "bad name", in: "HTTP/1.1 200 OK\r\nX A: b\r\n\r\n", err: errMalformed},
		{name: "bad status", in: "HTTP/1.1 20x OK\r\n\r\n", err: errMalformed},
		{name: "http/2 status line", in: "HTTP/2.0 200 OK\r\n\r\n", err: errMalformed},
		{name: "bad chunk size", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", err: errBadChunk},
		{name: "chunk without CRLF", in: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy", err: errBadChunk},
		{name: "truncated body", in: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", err: io.ErrUnexpectedEOF},
		{name: "truncated head", in: "HTTP/1.1 200 OK\r\nX-A", err: errMalformed},
		{name: "line longer than the read buffer", in: "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 300) + "\r\nContent-Length: 0\r\n\r\n", status: 200, hdr: map[string]string{"X-A": strings.Repeat("a", 300)}},
		{name: "head too big", in: "HTTP/1.1 200 OK\r\nX-A: " + strings.Repeat("a", 5000) + "\r\n\r\n", err: errHeadTooBig},
		{name: "head too big in short lines", in: "HTTP/1.1 200 OK\r\n" + strings.Repeat("X-A: aaaaaaaaaa\r\n", 300) + "\r\n", err: errHeadTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			method := tc.method
			if method == "" {
				method = "GET"
			}
			h, hdr, body, _, err := parseAll(tc.in, method)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.status != tc.status || string(body) != tc.body || (h.close || h.contentLength < 0 && !h.chunked && !h.bodyless(method)) != tc.close {
				t.Fatalf("status %d body %q close %v", h.status, body, h.close)
			}
			for k, v := range tc.hdr {
				if hdr.Get(k) != v {
					t.Errorf("header %s = %q, want %q", k, hdr.Get(k), v)
				}
			}
			for _, k := range []string{"Connection", "Transfer-Encoding", "Keep-Alive"} {
				if _, ok := hdr[k]; ok {
					t.Errorf("hop-by-hop %s kept", k)
				}
			}
		})
	}
}

// FuzzResponseParser checks the upstream parser never panics and, where
// both it and net/http accept a response, that they agree on the status
// and body.
func FuzzResponseParser(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05hello",
		"HTTP/1.0 200 OK\r\n\r\nuntil close",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, head bool) {
		method := "GET"
		if head {
			method = "HEAD"
		}
		h, _, body, _, err := parseAll(in, method)
		if err != nil {
			return
		}
		if h.status < 100 || h.status > 999 {
			t.Fatalf("status %d", h.status)
		}
		if h.contentLength >= 0 && !h.bodyless(method) && int64(len(body)) != h.contentLength {
			t.Fatalf("body %d bytes, Content-Length %d", len(body), h.contentLength)
		}
		if h.status == 101 {
			return // net/http's ReadResponse has no notion of tunnels
		}
		req, _ := http.NewRequest(method, "http://x/", nil)
		res, err := http.ReadResponse(bufio.NewReader(strings.NewReader(in)), req)
		if err != nil {
			return
		}
		theirs, err := io.ReadAll(res.Body)
		if err != nil || res.StatusCode < 200 {
			return // net/http returns interim responses; we skip them
		}
		if res.StatusCode != h.status {
			t.Fatalf("status: ours %d, net/http %d", h.status, res.StatusCode)
		}
		if !bytes.Equal(theirs, body) {
			t.Fatalf("body: ours %q, net/http %q", body, theirs)
		}
	})
}
