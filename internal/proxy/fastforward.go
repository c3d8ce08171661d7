package proxy

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"
	"unsafe"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

type backendRef struct{ b *backend.Backend }

// bytesToString views b as a string without copying; b must not change
// while the string is in use.
func bytesToString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

// proxyFast forwards the parsed request with retries; it reports whether
// the client connection can serve another request.
func (fc *fastConn) proxyFast(sticky *backendRef, learn bool) bool {
	p := fc.s.p
	rt := p.newRetries(p.reg.Snapshot(), nil)
	if sticky != nil {
		rt.sticky = sticky.b
	}
	return fc.proxyWith(&rt, learn, nil)
}

// proxyWith makes rt's attempts for the parsed request. With res, the
// first attempt is one the HTTP reactor began: its request is written, and
// what came of the response so far is in res.c's buffer.
func (fc *fastConn) proxyWith(rt *retries, learn bool, res *resumed) bool {
	r := &fc.req
	p := fc.s.p
	var last attempt
	for {
		var b *backend.Backend
		var keepClient bool
		if res != nil {
			b = res.b
			last, keepClient = fc.resume(res)
			res = nil
		} else {
			var fresh bool
			if b, fresh = rt.next(nil); b == nil {
				break
			}
			last, keepClient = fc.forwardFast(b, learn, fresh)
		}
		switch last.out {
		case outDone:
			return keepClient
		case outFail:
			return fc.simple(last.status, "text/plain; charset=utf-8", http.StatusText(last.status)+"\n", "") && !r.close
		}
		switch rt.failed(b, last) {
		case retryGiveUpDead:
			return fc.simple(http.StatusBadGateway, "text/plain; charset=utf-8", "backend closed the connection\n", "") && !r.close
		case retryGiveUpStick:
			p.sticky.dropBackend(b)
			return fc.simple(http.StatusBadRequest, "application/json", `{"code":1,"message":"Session ID unknown"}`, "") && !r.close
		}
	}
	status, msg := exhausted(last)
	extra := ""
	if status == http.StatusServiceUnavailable {
		extra = "Retry-After: 1\r\n"
	}
	return fc.simple(status, "text/plain; charset=utf-8", msg+"\n", extra) && !r.close
}

// maxKeptHdr bounds the scratch buffer a connection keeps for heads.
const maxKeptHdr = 4 << 10

// resumed is an attempt the HTTP reactor began and a goroutine finishes:
// the request went out on c (b's in-flight count includes it), and the
// response has not been taken whole.
type resumed struct {
	b      *backend.Backend
	c      *upConn
	start  time.Time
	failed *attempt // the attempt failed already (c is closed, the count dropped)
}

// resume finishes res as forwardFast would.
func (fc *fastConn) resume(res *resumed) (attempt, bool) {
	if res.failed != nil {
		return *res.failed, false
	}
	defer res.b.AddInFlight(-1)
	fc.acc.backend = res.b.Addr
	return fc.exchange(res.b, res.c, false, res.start, true)
}

// appendFastRequest appends the request head for the backend to dst.
func (fc *fastConn) appendFastRequest(dst []byte) []byte {
	p := fc.s.p
	r := &fc.req
	dst = append(dst, r.method...)
	dst = append(dst, ' ')
	dst = append(dst, r.target...)
	dst = append(dst, " HTTP/1.1\r\nHost: "...)
	dst = append(dst, r.host...)
	dst = append(dst, "\r\n"...)
	for _, l := range r.fwd {
		dst = append(dst, l...)
		dst = append(dst, "\r\n"...)
	}
	dst = append(dst, "X-Forwarded-For: "...)
	if fc.trusted {
		for _, v := range r.xff {
			dst = append(dst, v...)
			dst = append(dst, ", "...)
		}
	}
	dst = append(dst, fc.remote...)
	dst = append(dst, "\r\nX-Forwarded-Proto: "...)
	switch {
	case fc.trusted && len(r.xfp) > 0:
		dst = append(dst, r.xfp...)
	case fc.tls:
		dst = append(dst, "https"...)
	default:
		dst = append(dst, "http"...)
	}
	dst = append(dst, "\r\nX-Forwarded-Host: "...)
	if fc.trusted && len(r.xfh) > 0 {
		dst = append(dst, r.xfh...)
	} else {
		dst = append(dst, r.host...)
	}
	dst = append(dst, "\r\nVia: "...)
	for _, v := range r.via {
		dst = append(dst, v...)
		dst = append(dst, ", "...)
	}
	dst = append(dst, p.via...)
	return append(dst, "\r\n\r\n"...)
}

// forwardFast makes one attempt through b. keepClient reports whether the
// client connection may serve another request (meaningful for outDone).
func (fc *fastConn) forwardFast(b *backend.Backend, learn, fresh bool) (res attempt, keepClient bool) {
	p := fc.s.p
	b.AddInFlight(1)
	defer b.AddInFlight(-1)
	fc.acc.backend = b.Addr
	u := p.upstreamFor(b)
	now := time.Now()
	var c *upConn
	if !fresh {
		if c = u.get(now, p.cfg.IdleConnTimeout); c != nil {
			c.detach()
		}
	}
	if c == nil {
		var err error
		c, err = p.dial(context.Background(), b)
		if err != nil {
			d := b.MarkFailed(now)
			p.log.LogAttrs(context.Background(), slog.LevelWarn, "backend dial failed",
				slog.String("backend_id", b.ID), slog.String("backend_addr", b.Addr),
				slog.Duration("out_of_rotation", d), slog.Any("err", err))
			return attempt{out: outDialFail, err: err}, false
		}
	}
	return fc.exchange(b, c, learn, now, false)
}

// exchange sends the request on c (unless sent: the reactor did) and
// forwards the response to the client. keepClient reports whether the
// client connection may serve another request (meaningful for outDone).
func (fc *fastConn) exchange(b *backend.Backend, c *upConn, learn bool, now time.Time, sent bool) (res attempt, keepClient bool) {
	p := fc.s.p
	r := &fc.req
	u := p.upstreamFor(b)
	keep := false
	var big bigHeadBuf // holds a head bigger than c.br's buffer
	defer func() {
		big.release()
		if keep {
			u.put(c, now)
		} else {
			c.close()
		}
	}()
	// One read deadline covers the response head (the request head is small
	// and written at once); it is cleared only when the body is streamed.
	// Renewed only when less than half is left (a timer update per request
	// costs more than the imprecision): the head must come within
	// ResponseHeaderTimeout/2 to ResponseHeaderTimeout.
	if rht := int64(p.cfg.ResponseHeaderTimeout); c.rdl-now.UnixNano() < rht/2 {
		c.rdl = now.UnixNano() + rht
		_ = c.nc.SetReadDeadline(time.Unix(0, c.rdl))
	}
	// From here until the response head is in, a client that leaves makes
	// the watcher close c (clientwatch.go).
	fc.watchUpstream(c, now.UnixNano())
	var err error
	if !sent {
		fc.hdr = fc.appendFastRequest(fc.hdr[:0])
		_, err = c.bw.Write(fc.hdr)
		if err == nil {
			err = c.bw.Flush()
		}
	}
	if err == nil {
		_, err = c.br.Peek(1)
	}
	early := err != nil // no response byte came
	var h respHead
	var head []byte
	var inBuf bool // head still sits at the start of c.br
	for err == nil {
		head, inBuf, err = scanHead(c.br, &h, p.cfg.MaxResponseHeaderBytes, &big)
		if err != nil || h.status >= 200 || h.status == http.StatusSwitchingProtocols {
			break
		}
		if inBuf {
			_, _ = c.br.Discard(len(head)) // interim 1xx
		}
	}
	if !fc.unwatchUpstream(c) {
		// The client left and the watcher closed c: nobody to answer.
		fc.acc.status = statusClientGone
		p.clientGone(context.Background(), b, err)
		return attempt{out: outDone}, false
	}
	if early {
		if isTimeout(err) {
			return attempt{out: outFail, status: http.StatusGatewayTimeout, err: err}, false
		}
		p.log.LogAttrs(context.Background(), slog.LevelDebug, "backend connection died",
			slog.String("backend_id", b.ID), slog.Bool("reused", c.reused), slog.Any("err", err))
		if idempotentMethod(r.method) {
			return attempt{out: outDeadEarly, err: err, reused: c.reused}, false
		}
		return attempt{out: outFail, status: http.StatusBadGateway, err: err}, false
	}
	if err != nil {
		if isTimeout(err) {
			return attempt{out: outFail, status: http.StatusGatewayTimeout, err: err}, false
		}
		return attempt{out: outFail, status: http.StatusBadGateway, err: err}, false
	}
	if h.status == http.StatusSwitchingProtocols {
		return attempt{out: outFail, status: http.StatusBadGateway, err: errMalformed}, false
	}
	headInBuf := 0
	if inBuf {
		headInBuf = len(head)
	}
	b.MarkOK()
	fc.acc.status = h.status
	method := bytesToString(r.method)
	body := newBodyReader(nil, &h, method, nil, p.cfg.MaxResponseHeaderBytes)
	// A body already in the buffer needs no deadlines; a streamed one is
	// read without a deadline and written with one.
	streamed := body.chunked || body.untilEOF || (!body.done && int64(c.br.Buffered()-headInBuf) < body.remain)
	if streamed {
		c.rdl = 0
		_ = c.nc.SetReadDeadline(time.Time{})
		_ = fc.nc.SetWriteDeadline(now.Add(p.cfg.WriteTimeout))
	}

	// Response head for the client.
	bw := fc.bw
	closeClient := r.close || body.untilEOF
	fc.hdr = appendFilteredHead(fc.hdr[:0], head, &h)
	bw.Write(fc.hdr)
	if cap(fc.hdr) > maxKeptHdr {
		fc.hdr = nil // a big head: not kept for the connection's life
	}
	if body.chunked {
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	if closeClient {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	_, _ = c.br.Discard(headInBuf)
	body.br = c.br
	if h.chunked {
		body.trailer = http.Header{}
	}
	flushEach := body.chunked || body.untilEOF || h.eventStream
	if flushEach {
		if err := bw.Flush(); err != nil {
			return attempt{out: outDone}, false
		}
	}
	first := true
	for {
		if streamed {
			// While the body waits on the backend (an idle event stream),
			// a client that leaves makes the watcher close c, as during
			// the wait for the head.
			fc.watchUpstream(c, time.Now().UnixNano())
		}
		data, err := body.next(32 << 10)
		if streamed && !fc.unwatchUpstream(c) {
			p.clientGone(context.Background(), b, err)
			return attempt{out: outDone}, false
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			// The client sees a cut response: close its connection.
			p.log.LogAttrs(context.Background(), slog.LevelDebug, "backend body failed", slog.String("backend_id", b.ID), slog.Any("err", err))
			_ = bw.Flush()
			return attempt{out: outDone}, false
		}
		if first && learn && h.status == http.StatusOK {
			if sid := sidFromHandshake(data[:min(len(data), p.cfg.StickyPeekBytes)]); sid != "" {
				p.sticky.put(sid, b)
			}
		}
		first = false
		if body.chunked {
			var hx [20]byte
			bw.Write(append(appendHex(hx[:0], uint64(len(data))), '\r', '\n'))
			bw.Write(data)
			bw.WriteString("\r\n")
		} else {
			bw.Write(data)
		}
		fc.acc.bytes += int64(len(data))
		if cerr := body.consume(len(data)); cerr != nil {
			_ = bw.Flush()
			return attempt{out: outDone}, false
		}
		if flushEach {
			if err := bw.Flush(); err != nil {
				return attempt{out: outDone}, false
			}
		}
	}
	if body.chunked {
		bw.WriteString("0\r\n")
		for k, vv := range body.trailer {
			for _, v := range vv {
				bw.WriteString(k)
				bw.WriteString(": ")
				bw.WriteString(v)
				bw.WriteString("\r\n")
			}
		}
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return attempt{out: outDone}, false
	}
	if streamed {
		_ = fc.nc.SetWriteDeadline(time.Time{})
	}
	keep = !h.close && !body.untilEOF
	return attempt{out: outDone}, !closeClient
}

func idempotentMethod(m []byte) bool {
	switch string(m) {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete, http.MethodTrace:
		return true
	}
	return false
}

// scanHead parses the response head at the start of br and fills h. It
// returns the head's bytes (status line through the empty line); field
// values are not copied.
//
// A head that fits br's buffer (the common case, up to 8 KiB) is parsed in
// place, without copying or consuming it: inBuf is true and the caller
// discards the head once it has used it. A bigger head, up to max bytes,
// is read line by line into big (a pooled buffer, taken only then), so the
// size of the upstream read buffer never limits a response head:
// MaxResponseHeaderBytes does, as on the net/http front. The head is then
// consumed from br (inBuf is false) and valid until big is released.
func scanHead(br *bufio.Reader, h *respHead, max int64, big *bigHeadBuf) (head []byte, inBuf bool, err error) {
	*h = respHead{contentLength: -1, connTokens: h.connTokens[:0]}
	var buf []byte
	for {
		buf, _ = br.Peek(br.Buffered())
		if end := headEnd(buf); end > 0 {
			if int64(end) > max {
				return nil, false, errHeadTooBig // a bound below the buffer size
			}
			buf = buf[:end]
			inBuf = true
			break
		}
		if int64(len(buf)) >= max {
			return nil, false, errHeadTooBig
		}
		if len(buf) >= br.Size() {
			if buf, err = big.read(br, max); err != nil {
				return nil, false, err
			}
			break
		}
		if _, err = br.Peek(len(buf) + 1); err != nil {
			if err == io.EOF && len(buf) > 0 {
				return nil, false, errMalformed
			}
			return nil, false, err
		}
	}
	if err := parseRespHead(buf, h); err != nil {
		return nil, false, err
	}
	return buf, inBuf, nil
}

// parseRespHead parses the complete response head buf into h (reset
// first).
func parseRespHead(buf []byte, h *respHead) error {
	*h = respHead{contentLength: -1, connTokens: h.connTokens[:0]}
	rest := buf
	line, rest := nextLine(rest)
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
	var keepAlive bool
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return errMalformed
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 || !validToken(line[:colon]) {
			return errMalformed
		}
		name, val := line[:colon], trimOWS(line[colon+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, ok := parseContentLength(val)
			if !ok || (h.contentLength >= 0 && n != h.contentLength) {
				return errBadLength
			}
			h.contentLength = n
		case asciiEqualFold(name, "transfer-encoding"):
			h.transferEncoding(val)
		case asciiEqualFold(name, "connection"):
			if h.connection(val, bytesToString) {
				keepAlive = true
			}
		case asciiEqualFold(name, "content-type"):
			h.eventStream = len(val) >= 17 && asciiEqualFold(val[:17], "text/event-stream")
		}
	}
	if h.minor == 0 && keepAlive {
		h.close = false
	}
	if h.hasTE && h.minor == 0 {
		return errMalformed
	}
	if h.hasTE {
		if h.contentLength >= 0 {
			h.close = true
			h.contentLength = -1
			h.clDropped = true
		}
		if !h.chunked {
			h.close = true
		}
	}
	return nil
}

// bigHeadBuf holds a response head bigger than the upstream connection's
// read buffer. The buffer comes from bigHeadPool on first use, so heads
// that fit the read buffer cost nothing.
type bigHeadBuf struct{ p *[]byte }

// maxPooledHead bounds the buffers kept in bigHeadPool: a configured
// MaxResponseHeaderBytes far above the default must not pin that much
// memory per pooled buffer.
const maxPooledHead = 128 << 10

var bigHeadPool sync.Pool // *[]byte

// read consumes a head from br line by line into the buffer and returns it
// (status line through the empty line); more than max bytes is
// errHeadTooBig. Reading by lines never takes bytes past the head from br:
// the body stays there for the body reader.
func (b *bigHeadBuf) read(br *bufio.Reader, max int64) ([]byte, error) {
	if b.p == nil {
		if p, ok := bigHeadPool.Get().(*[]byte); ok {
			b.p = p
		} else {
			buf := make([]byte, 0, 2*br.Size())
			b.p = &buf
		}
	}
	head := (*b.p)[:0]
	defer func() { *b.p = head[:0] }() // keep what append grew
	for {
		part, err := br.ReadSlice('\n')
		head = append(head, part...)
		if int64(len(head)) > max {
			return nil, errHeadTooBig
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue // a line longer than br's buffer
		case err == io.EOF:
			return nil, errMalformed
		case err != nil:
			return nil, err
		}
		// A complete line; an empty one ends the head.
		if n := len(head); n >= 2 && head[n-2] == '\n' || n >= 3 && head[n-2] == '\r' && head[n-3] == '\n' {
			return head, nil
		}
	}
}

// release returns the buffer to the pool; the head read into it must no
// longer be used.
func (b *bigHeadBuf) release() {
	if b.p == nil {
		return
	}
	if cap(*b.p) <= maxPooledHead {
		bigHeadPool.Put(b.p)
	}
	b.p = nil
}

// headEnd returns the length of the head at the start of b (through the
// empty line), or 0 when b holds no complete head.
func headEnd(b []byte) int {
	for i := 0; i < len(b); {
		j := bytes.IndexByte(b[i:], '\n')
		if j < 0 {
			return 0
		}
		line := b[i : i+j]
		i += j + 1
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			return i
		}
	}
	return 0
}

// nextLine splits the first line (without CRLF or LF) from b.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

// appendFilteredHead appends the status line (as HTTP/1.1) and the
// end-to-end fields of head to dst.
func appendFilteredHead(dst, head []byte, h *respHead) []byte {
	line, rest := nextLine(head)
	dst = append(dst, "HTTP/1.1"...)
	dst = append(dst, line[8:]...)
	dst = append(dst, "\r\n"...)
	for {
		line, rest = nextLine(rest)
		if len(line) == 0 {
			return dst
		}
		colon := bytes.IndexByte(line, ':')
		name := line[:colon]
		if hopResponseHeader(name) || (h.clDropped && asciiEqualFold(name, "content-length")) {
			continue
		}
		skip := false
		for _, t := range h.connTokens {
			if asciiEqualFold(name, t) {
				skip = true
				break
			}
		}
		if skip {
			continue
		}
		dst = append(dst, line...)
		dst = append(dst, "\r\n"...)
	}
}

func hopResponseHeader(name []byte) bool {
	switch len(name) {
	case 2:
		return asciiEqualFold(name, "te")
	case 7:
		return asciiEqualFold(name, "upgrade") || asciiEqualFold(name, "trailer")
	case 10:
		return asciiEqualFold(name, "connection") || asciiEqualFold(name, "keep-alive")
	case 16:
		return asciiEqualFold(name, "proxy-connection")
	case 17:
		return asciiEqualFold(name, "transfer-encoding")
	case 18:
		return asciiEqualFold(name, "proxy-authenticate")
	}
	return false
}
