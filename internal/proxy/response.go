package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/textproto"
)

// Errors of the upstream response parser. All mean the backend spoke
// malformed HTTP/1.1; the connection is not reused.
var (
	errMalformed   = errors.New("proxy: malformed response from backend")
	errHeadTooBig  = errors.New("proxy: response head from backend too large")
	errBadChunk    = errors.New("proxy: malformed chunked body from backend")
	errBadLength   = errors.New("proxy: invalid Content-Length from backend")
	errTrailerSize = errors.New("proxy: trailers from backend too large")
)

// respHead is the parsed status line and framing of a backend response.
// Header fields go straight into an http.Header.
type respHead struct {
	status        int
	minor         int   // HTTP/1.minor
	contentLength int64 // -1 when absent
	chunked       bool  // Transfer-Encoding ends in chunked
	hasTE         bool  // any Transfer-Encoding
	close         bool  // the connection cannot be reused after this response
	upgrade       string
	connTokens    []string // header names listed in Connection (canonical), to strip
	eventStream   bool     // Content-Type: text/event-stream (fast path only)
	clDropped     bool     // Content-Length ignored because of Transfer-Encoding (fast path only)
}

// readHead parses a response head from br into h and hdr, skipping 1xx
// interim responses other than 101. max bounds the head in bytes.
// hdr receives end-to-end fields only: hop-by-hop ones (and those named in
// Connection) are left out, Content-Length is kept.
func readHead(br *bufio.Reader, h *respHead, hdr http.Header, max int64) error {
	for {
		if err := readOneHead(br, h, hdr, max); err != nil {
			return err
		}
		if h.status >= 200 || h.status == http.StatusSwitchingProtocols {
			return nil
		}
		clear(hdr) // interim 1xx (100 Continue, 103 Early Hints): drop and read on
	}
}

func readOneHead(br *bufio.Reader, h *respHead, hdr http.Header, max int64) error {
	*h = respHead{contentLength: -1, connTokens: h.connTokens[:0]}
	budget := max
	line, err := readLine(br, &budget)
	if err != nil {
		return err
	}
	// HTTP/1.x SP 3DIGIT [SP reason]
	if len(line) < 12 || string(line[:7]) != "HTTP/1." || line[8] != ' ' {
		return errMalformed
	}
	switch line[7] {
	case '0':
		h.minor = 0
		h.close = true
	case '1':
		h.minor = 1
	default:
		return errMalformed
	}
	d0, d1, d2 := line[9]-'0', line[10]-'0', line[11]-'0'
	if d0 > 9 || d1 > 9 || d2 > 9 || d0 == 0 || (len(line) > 12 && line[12] != ' ') {
		return errMalformed
	}
	h.status = int(d0)*100 + int(d1)*10 + int(d2)
	var connKeepAlive bool
	for {
		line, err := readLine(br, &budget)
		if err != nil {
			return err
		}
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errMalformed // obs-fold (RFC 9112 §5.2)
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			return errMalformed
		}
		name := line[:colon]
		if !validToken(name) {
			return errMalformed
		}
		val := trimOWS(line[colon+1:])
		key := canonicalKey(name)
		switch key {
		case "Content-Length":
			n, ok := parseContentLength(val)
			if !ok || (h.contentLength >= 0 && n != h.contentLength) {
				return errBadLength
			}
			h.contentLength = n
		case "Transfer-Encoding":
			h.transferEncoding(val)
			continue
		case "Connection":
			if h.connection(val, func(tok []byte) string { return textproto.CanonicalMIMEHeaderKey(string(tok)) }) {
				connKeepAlive = true
			}
			continue
		case "Upgrade":
			h.upgrade = string(val)
			continue
		case "Keep-Alive", "Proxy-Connection", "Te", "Trailer", "Proxy-Authenticate":
			continue
		}
		hdr[key] = append(hdr[key], internValue(key, val))
	}
	if h.minor == 0 && connKeepAlive {
		h.close = false
	}
	if h.hasTE && h.minor == 0 {
		return errMalformed // HTTP/1.0 with Transfer-Encoding: faulty framing (RFC 9112 §6.1)
	}
	if h.hasTE {
		// Transfer-Encoding overrides Content-Length; such a message may be an
		// attempt at smuggling, so the connection is not reused (RFC 9112 §6.3).
		if h.contentLength >= 0 {
			h.close = true
			h.contentLength = -1
			delete(hdr, "Content-Length")
		}
		if !h.chunked {
			h.close = true // read until close
		}
	}
	for _, k := range h.connTokens {
		delete(hdr, k)
	}
	return nil
}

// bodyless reports whether a response to method with this status has no
// body regardless of its headers (RFC 9112 §6.3 rules 1 and 2).
func (h *respHead) bodyless(method string) bool {
	return method == http.MethodHead || h.status == 204 || h.status == 304 || (h.status >= 100 && h.status < 200)
}

// readLine returns one line without CRLF (or bare LF), charging its length
// to budget. The slice is valid until the next read from br.
func readLine(br *bufio.Reader, budget *int64) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		line, err = readLongLine(br, line, *budget)
	}
	if err != nil {
		if len(line) > 0 && err == io.EOF {
			return nil, errMalformed
		}
		return nil, err
	}
	*budget -= int64(len(line))
	if *budget < 0 {
		return nil, errHeadTooBig
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// readLongLine finishes a line that did not fit br's buffer (first is
// its beginning) in a new slice, reading no more than budget bytes of it.
// Such lines are rare (a long Content-Security-Policy or cookie) but
// legitimate as long as the head stays within its bound, so they must not
// be limited by the size of the read buffer.
func readLongLine(br *bufio.Reader, first []byte, budget int64) ([]byte, error) {
	long := append([]byte(nil), first...) // ReadSlice's result is overwritten by the next read
	for {
		if int64(len(long)) > budget {
			return nil, errHeadTooBig
		}
		part, err := br.ReadSlice('\n')
		long = append(long, part...)
		if err != bufio.ErrBufferFull {
			return long, err
		}
	}
}

func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

func parseContentLength(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// forEachToken calls fn for each non-empty comma-separated token of v.
func forEachToken(v []byte, fn func([]byte)) {
	for len(v) > 0 {
		i := bytes.IndexByte(v, ',')
		var tok []byte
		if i < 0 {
			tok, v = v, nil
		} else {
			tok, v = v[:i], v[i+1:]
		}
		if tok = trimOWS(tok); len(tok) > 0 {
			fn(tok)
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// tokenTable marks the characters allowed in a header field name (RFC 9110 §5.6.2).
var tokenTable = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

func validToken(b []byte) bool {
	for _, c := range b {
		if !tokenTable[c] {
			return false
		}
	}
	return len(b) > 0
}

// canonicalKey returns the canonical form of a header name, without
// allocating for the names backends commonly send.
func canonicalKey(b []byte) string {
	switch string(b) {
	case "Content-Type", "content-type":
		return "Content-Type"
	case "Content-Length", "content-length":
		return "Content-Length"
	case "Date", "date":
		return "Date"
	case "Connection", "connection":
		return "Connection"
	case "Transfer-Encoding", "transfer-encoding":
		return "Transfer-Encoding"
	case "Keep-Alive", "keep-alive":
		return "Keep-Alive"
	case "Upgrade", "upgrade":
		return "Upgrade"
	case "Cache-Control", "cache-control":
		return "Cache-Control"
	case "Set-Cookie", "set-cookie":
		return "Set-Cookie"
	case "Server", "server":
		return "Server"
	case "Etag", "ETag", "etag":
		return "Etag"
	case "Last-Modified", "last-modified":
		return "Last-Modified"
	case "Content-Encoding", "content-encoding":
		return "Content-Encoding"
	case "Vary", "vary":
		return "Vary"
	case "X-Powered-By", "x-powered-by":
		return "X-Powered-By"
	case "Access-Control-Allow-Origin", "access-control-allow-origin":
		return "Access-Control-Allow-Origin"
	case "Access-Control-Allow-Credentials", "access-control-allow-credentials":
		return "Access-Control-Allow-Credentials"
	case "Sec-Websocket-Accept", "Sec-WebSocket-Accept", "sec-websocket-accept":
		return "Sec-Websocket-Accept"
	case "Te", "TE", "te":
		return "Te"
	case "Trailer", "trailer":
		return "Trailer"
	case "Proxy-Connection", "proxy-connection":
		return "Proxy-Connection"
	case "Proxy-Authenticate", "proxy-authenticate":
		return "Proxy-Authenticate"
	}
	return textproto.CanonicalMIMEHeaderKey(string(b))
}

// internValue returns val as a string, without allocating for a few
// values that repeat on every response.
func internValue(key string, val []byte) string {
	if key == "Content-Type" {
		switch string(val) {
		case "text/plain; charset=utf-8":
			return "text/plain; charset=utf-8"
		case "text/plain; charset=UTF-8":
			return "text/plain; charset=UTF-8"
		case "application/json":
			return "application/json"
		case "application/json; charset=utf-8":
			return "application/json; charset=utf-8"
		case "text/html; charset=utf-8":
			return "text/html; charset=utf-8"
		case "text/event-stream":
			return "text/event-stream"
		case "application/octet-stream":
			return "application/octet-stream"
		}
	}
	if key == "Content-Length" && len(val) == 1 {
		return smallNums[val[0]-'0']
	}
	return string(val)
}

var smallNums = [10]string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}

// bodyReader yields a response body in slices of br's buffer.
type bodyReader struct {
	br       *bufio.Reader
	remain   int64 // bytes left in the body (CL) or the current chunk
	chunked  bool
	untilEOF bool
	done     bool
	trailer  http.Header // receives trailer fields (may be nil to drop them)
	// trailerPrefix is put before trailer names (http.TrailerPrefix for a ResponseWriter).
	trailerPrefix string
	maxHeader     int64
}

func newBodyReader(br *bufio.Reader, h *respHead, method string, trailer http.Header, maxHeader int64) bodyReader {
	b := bodyReader{br: br, trailer: trailer, maxHeader: maxHeader}
	switch {
	case h.bodyless(method):
		b.done = true
	case h.chunked:
		b.chunked = true
	case h.contentLength >= 0:
		b.remain = h.contentLength
		b.done = h.contentLength == 0
	default:
		b.untilEOF = true
	}
	return b
}

// next returns the next piece of body data, at most max bytes, without
// copying. The caller must call consume(len(p)) before calling next again.
// At the end of the body it returns io.EOF (with no data).
func (b *bodyReader) next(max int) ([]byte, error) {
	if b.done {
		return nil, io.EOF
	}
	if b.chunked && b.remain == 0 {
		if err := b.chunkHeader(); err != nil {
			return nil, err
		}
		if b.done {
			return nil, io.EOF
		}
	}
	if b.br.Buffered() == 0 {
		if _, err := b.br.Peek(1); err != nil {
			if err == io.EOF && b.untilEOF {
				b.done = true
				return nil, io.EOF
			}
			if err == io.EOF {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
	}
	n := b.br.Buffered()
	if n > max {
		n = max
	}
	if !b.untilEOF && int64(n) > b.remain {
		n = int(b.remain)
	}
	p, _ := b.br.Peek(n)
	return p, nil
}

// consume marks n bytes returned by next as used.
func (b *bodyReader) consume(n int) error {
	_, _ = b.br.Discard(n)
	if b.untilEOF {
		return nil
	}
	b.remain -= int64(n)
	if b.remain > 0 {
		return nil
	}
	if b.chunked {
		// chunk data is followed by CRLF
		c, err := b.br.ReadByte()
		if err == nil && c == '\r' {
			c, err = b.br.ReadByte()
		}
		if err != nil {
			return eofToUnexpected(err)
		}
		if c != '\n' {
			return errBadChunk
		}
		return nil
	}
	b.done = true
	return nil
}

// chunkHeader reads a chunk-size line; on the last chunk it reads the
// trailer section and marks the body done.
func (b *bodyReader) chunkHeader() error {
	budget := int64(4096)
	line, err := readLine(b.br, &budget)
	if err != nil {
		if err == errHeadTooBig {
			return errBadChunk
		}
		return eofToUnexpected(err)
	}
	if i := bytes.IndexByte(line, ';'); i >= 0 {
		line = line[:i] // chunk extensions are ignored
	}
	line = trimOWS(line)
	if len(line) == 0 || len(line) > 15 {
		return errBadChunk
	}
	var size int64
	for _, c := range line {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return errBadChunk
		}
		size = size<<4 | int64(c)
	}
	if size > 0 {
		b.remain = int64(size)
		return nil
	}
	budget = b.maxHeader
	for {
		line, err := readLine(b.br, &budget)
		if err != nil {
			if err == errHeadTooBig {
				return errTrailerSize
			}
			return eofToUnexpected(err)
		}
		if len(line) == 0 {
			break
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validToken(line[:colon]) {
			return errBadChunk
		}
		if b.trailer != nil {
			k := b.trailerPrefix + textproto.CanonicalMIMEHeaderKey(string(line[:colon]))
			b.trailer[k] = append(b.trailer[k], string(trimOWS(line[colon+1:])))
		}
	}
	b.done = true
	return nil
}

// transferEncoding records a Transfer-Encoding value. The final coding
// decides: "chunked" must be last (RFC 9112 §6.1).
func (h *respHead) transferEncoding(val []byte) {
	h.hasTE = true
	last := val
	if i := bytes.LastIndexByte(val, ','); i >= 0 {
		last = trimOWS(val[i+1:])
	}
	h.chunked = asciiEqualFold(last, "chunked")
}

// connection records a Connection value: close, and the header names it
// lists (as name gives them) to strip before forwarding. It reports whether
// keep-alive was listed.
func (h *respHead) connection(val []byte, name func(tok []byte) string) (keepAlive bool) {
	forEachToken(val, func(tok []byte) {
		switch {
		case asciiEqualFold(tok, "close"):
			h.close = true
		case asciiEqualFold(tok, "keep-alive"):
			keepAlive = true
		case asciiEqualFold(tok, "upgrade"):
		default:
			h.connTokens = append(h.connTokens, name(tok))
		}
	})
	return keepAlive
}
