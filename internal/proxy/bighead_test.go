package proxy

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// bigHead builds a response head of exactly size bytes (status line
// through the empty line) announcing a body of bodyLen bytes: Set-Cookie
// lines of about 1 KiB and, from 16 KiB on, one Content-Security-Policy
// line of 10 KiB (longer than the upstream connection's 8 KiB read buffer).
func bigHead(size, bodyLen int) (head string, cookies []string, csp string) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n", bodyLen)
	if size >= 16<<10 {
		csp = "default-src 'self'; script-src 'self' " + strings.Repeat("x", 10<<10-len("Content-Security-Policy: default-src 'self'; script-src 'self' \r\n"))
		sb.WriteString("Content-Security-Policy: " + csp + "\r\n")
	}
	const line = 1 << 10
	for i := 0; ; i++ {
		left := size - sb.Len() - 2 // the final empty line
		prefix := fmt.Sprintf("Set-Cookie: c%03d=", i)
		n := line
		if left < 2*line {
			n = left // the last cookie takes what is left
		}
		v := strings.Repeat(string(rune('a'+i%26)), n-len(prefix)-2)
		cookies = append(cookies, fmt.Sprintf("c%03d=%s", i, v))
		sb.WriteString(prefix + v + "\r\n")
		if n == left {
			break
		}
	}
	sb.WriteString("\r\n")
	if sb.Len() != size {
		panic(fmt.Sprintf("bigHead: built %d bytes, want %d", sb.Len(), size))
	}
	return sb.String(), cookies, csp
}

// bigHeadBackend answers every request on a keep-alive connection with a
// head of the size given in the path (/<size>) and the body "hello",
// written at once or, under /pieces/<size>, in 1 KiB writes.
func bigHeadBackend(tb testing.TB) string {
	tb.Helper()
	return rawBackend(tb, func(c net.Conn) {
		br := bufio.NewReader(c)
		for {
			req, err := http.ReadRequest(br)
			if err != nil {
				return
			}
			path := strings.TrimPrefix(req.URL.Path, "/")
			pieces := strings.HasPrefix(path, "pieces/")
			size, err := strconv.Atoi(strings.TrimPrefix(path, "pieces/"))
			if err != nil {
				return
			}
			head, _, _ := bigHead(size, 5)
			msg := head + "hello"
			if !pieces {
				if _, err := c.Write([]byte(msg)); err != nil {
					return
				}
				continue
			}
			for len(msg) > 0 {
				n := min(len(msg), 1<<10)
				if _, err := c.Write([]byte(msg[:n])); err != nil {
					return
				}
				msg = msg[n:]
			}
		}
	})
}

// TestBigResponseHead is the regression test for big response heads on
// the fast path: a head that did not fit the upstream connection's 8 KiB
// read buffer was answered 502 there, while net/http's front end forwarded
// it. Both fronts must forward heads up to MaxResponseHeaderBytes (64 KiB
// by default) unchanged, whether the backend writes them at once or in
// 1 KiB pieces, and answer 502 to a bigger one.
func TestBigResponseHead(t *testing.T) { bothFronts(t, testBigResponseHead) }

func testBigResponseHead(t *testing.T) {
	be := bigHeadBackend(t) // before the proxy: cleaned up after it (and its pool)
	e := newEnv(t, Config{})
	e.add(t, "big", be, 1)
	const max = 64 << 10
	for _, tc := range []struct {
		name   string
		size   int
		status int
	}{
		{"7KiB", 7 << 10, 200},
		{"20KiB", 20 << 10, 200},
		{"60KiB", 60 << 10, 200},
		{"exactly max", max, 200},
		{"max+1", max + 1, http.StatusBadGateway},
		{"80KiB", 80 << 10, http.StatusBadGateway},
	} {
		for _, pieces := range []bool{false, true} {
			path := "/" + strconv.Itoa(tc.size)
			if pieces {
				path = "/pieces" + path
			}
			t.Run(strings.TrimPrefix(path, "/"), func(t *testing.T) {
				res, body := e.get(t, path)
				if res.StatusCode != tc.status {
					t.Fatalf("%s: status %d, want %d", tc.name, res.StatusCode, tc.status)
				}
				if tc.status != 200 {
					return
				}
				_, cookies, csp := bigHead(tc.size, 5)
				if body != "hello" {
					t.Fatalf("%s: body %q", tc.name, body)
				}
				if got := res.Header["Set-Cookie"]; !slices.Equal(got, cookies) {
					t.Fatalf("%s: %d Set-Cookie fields, want %d (first differing: %v)", tc.name, len(got), len(cookies), firstDiff(got, cookies))
				}
				if got := res.Header.Get("Content-Security-Policy"); got != csp {
					t.Fatalf("%s: Content-Security-Policy of %d bytes, want %d", tc.name, len(got), len(csp))
				}
				if got := res.Header.Get("Content-Type"); got != "text/plain" {
					t.Fatalf("%s: Content-Type %q", tc.name, got)
				}
			})
		}
	}
	// The connection that brought a big head is reusable: a small
	// response still comes through.
	if res, body := e.get(t, "/300"); res.StatusCode != 200 || body != "hello" {
		t.Fatalf("after big heads: %d %q", res.StatusCode, body)
	}
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// FuzzScanHead checks the fast path's head scanner against the net/http
// front's line parser (readOneHead) on one head, read through a tiny
// buffer (so heads take the big-head path) and a roomy one: both accept
// or both refuse, agree on status and framing, and the scanner leaves
// exactly the bytes after the head in the reader.
func FuzzScanHead(f *testing.F) {
	for _, s := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
		"HTTP/1.1 200 OK\r\nSet-Cookie: a=" + strings.Repeat("b", 100) + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"HTTP/1.0 404 Not Found\nConnection: keep-alive\n\nrest",
		"HTTP/1.1 204 No Content\r\nConnection: close, X-A\r\nX-A: 1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: " + strings.Repeat("y", 300) + "\r\n\r",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\n\r\n",
	} {
		f.Add(s, 200)
		f.Add(s, 40)
	}
	f.Fuzz(func(t *testing.T, in string, max int) {
		if max < 1 || max > 1<<16 {
			return
		}
		for _, size := range []int{16, 4096} {
			var ref respHead
			refErr := readOneHead(bufio.NewReaderSize(strings.NewReader(in), 1<<17), &ref, http.Header{}, int64(max))
			br := bufio.NewReaderSize(strings.NewReader(in), size)
			var h respHead
			var big bigHeadBuf
			head, inBuf, err := scanHead(br, &h, int64(max), &big)
			if (err == nil) != (refErr == nil) {
				big.release()
				t.Fatalf("buffer %d: scanHead error %v, readOneHead error %v", size, err, refErr)
			}
			if err != nil {
				big.release()
				continue
			}
			if h.status != ref.status || h.minor != ref.minor || h.contentLength != ref.contentLength ||
				h.chunked != ref.chunked || h.close != ref.close {
				t.Fatalf("buffer %d: scanHead %+v, readOneHead %+v", size, h, ref)
			}
			if !strings.HasPrefix(in, string(head)) {
				t.Fatalf("buffer %d: head %q is not the input's start", size, head)
			}
			n := len(head)
			big.release()
			if inBuf {
				_, _ = br.Discard(n)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != in[n:] {
				t.Fatalf("buffer %d: left %q after the head, want %q", size, rest, in[n:])
			}
		}
	})
}

// BenchmarkFastPathBigHead is BenchmarkFastPathGET with a 20 KiB response
// head (Set-Cookie lines and a 10 KiB Content-Security-Policy line), more
// than the upstream connection's 8 KiB read buffer: the head goes through
// the pooled big-head buffer.
func BenchmarkFastPathBigHead(b *testing.B) {
	be := bigHeadBackend(b)
	e := newEnvNamed(b, Config{}, "bench/fast")
	e.add(b, "a", be, 1)
	req := []byte("GET /20480 HTTP/1.1\r\nHost: x\r\n\r\n")
	cc, err := net.Dial("tcp", strings.TrimPrefix(e.url, "http://"))
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	br := bufio.NewReaderSize(cc, 64<<10)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := cc.Write(req); err != nil {
			b.Fatal(err)
		}
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}
