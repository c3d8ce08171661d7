package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// ServerConfig tunes the front end. Zero values mean the documented default.
type ServerConfig struct {
	// FallbackPrefixes lists path prefixes that are never proxied on the
	// fast path: their connections are served by Handler (e.g. "/list").
	FallbackPrefixes []string
	// ReadHeaderTimeout bounds reading a request head (default 10s).
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a keep-alive connection idle this long (default 120s).
	IdleTimeout time.Duration
	// MaxHeaderBytes bounds request heads on the net/http path (default 1 MiB,
	// net/http's default); the fast path takes heads up to 8 KiB.
	MaxHeaderBytes int
	// ErrorLog receives net/http's internal errors (default: discarded).
	ErrorLog *log.Logger
}

// HTTP2Streams bounds the requests one HTTP/2 client connection may have
// in flight at once (what nginx and Go default to, give or take).
const HTTP2Streams = 100

func (c ServerConfig) withDefaults() ServerConfig {
	if c.ReadHeaderTimeout <= 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 120 * time.Second
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = 1 << 20
	}
	if c.ErrorLog == nil {
		c.ErrorLog = log.New(io.Discard, "", 0)
	}
	return c
}

// Server is Switchboard's HTTP/1.1 front end. Plain bodyless HTTP/1.1
// requests (the bulk of proxied traffic) are parsed by a strict fast-path
// parser and forwarded without net/http's per-request machinery. Any
// other request (a body, an upgrade, HTTP/1.0, anything unusual, or a path
// under FallbackPrefixes) hands its connection, bytes already read
// included, to a net/http.Server running Handler for the rest of that
// connection's life; Handler should route non-fallback paths to the Proxy.
type Server struct {
	p    *Proxy
	cfg  ServerConfig
	http *http.Server
	ln   handoffListener

	mu       sync.Mutex // guards lns, conns, shutdown
	lns      map[net.Listener]struct{}
	conns    map[*fastConn]struct{}
	shutdown bool
	down     atomic.Bool    // shutdown, readable without the lock
	wg       sync.WaitGroup // connection goroutines and the net/http server
	httpOnce sync.Once
	httpErr  chan error

	// The client-gone watcher (clientwatch.go), started by the first Serve.
	watchStart sync.Once
	watchOnce  sync.Once     // closes watchStop
	watchStop  chan struct{} // closed by Shutdown (once requests are done) and Close
	// testHookWatched is called after each watcher pass with the number
	// of slow requests examined.
	testHookWatched atomic.Pointer[func(slow int)]

	// The HTTP reactor (httpreactor_linux.go), started by the first park.
	hrOnce sync.Once
	hr     atomic.Pointer[hreactor]

	fastRequests atomic.Int64 // requests served on the fast path
	handoffs     atomic.Int64 // connections handed to net/http
}

// Stats reports requests served on the fast path and connections handed
// to net/http so far.
func (s *Server) Stats() (fastRequests, handoffs int64) {
	return s.fastRequests.Load(), s.handoffs.Load()
}

// NewServer returns a front end for p; handler serves what the fast path
// does not take. It starts no goroutines.
func NewServer(p *Proxy, cfg ServerConfig, handler http.Handler) *Server {
	cfg = cfg.withDefaults()
	s := &Server{
		p:       p,
		cfg:     cfg,
		lns:     map[net.Listener]struct{}{},
		conns:   map[*fastConn]struct{}{},
		httpErr: make(chan error, 1),

		watchStop: make(chan struct{}),
	}
	s.ln = handoffListener{ch: make(chan net.Conn), done: make(chan struct{})}
	s.http = &http.Server{
		Handler:           withHandedTLS(handler),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    cfg.MaxHeaderBytes,
		ErrorLog:          cfg.ErrorLog,
		ConnContext:       handedTLSContext,
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: HTTP2Streams},
	}
	return s
}

// tlsStateKey keys the TLS state of a handed-off connection in its
// requests' contexts.
type tlsStateKey struct{}

// handedTLSContext records the TLS state of a connection handed to
// net/http: it arrives wrapped in a replayConn, so net/http does not see
// the *tls.Conn and would leave Request.TLS nil.
func handedTLSContext(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*replayConn); ok {
		if tc, ok := rc.Conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			return context.WithValue(ctx, tlsStateKey{}, &st)
		}
	}
	return ctx
}

// withHandedTLS sets Request.TLS from handedTLSContext's record.
func withHandedTLS(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			r.TLS, _ = r.Context().Value(tlsStateKey{}).(*tls.ConnectionState)
		}
		h.ServeHTTP(w, r)
	})
}

// Serve accepts connections on ln until Shutdown or Close. It returns
// http.ErrServerClosed after those, or the accept error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.lns[ln] = struct{}{}
	// Started under s.mu, as connections are counted: a Shutdown that
	// comes now either waits for these goroutines or was seen above.
	s.httpOnce.Do(func() {
		s.wg.Go(func() { s.httpErr <- s.http.Serve(&s.ln) })
	})
	s.watchStart.Do(func() { s.wg.Go(s.watchClients) })
	s.mu.Unlock()
	var delay time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			down := s.shutdown
			s.mu.Unlock()
			if down {
				return http.ErrServerClosed
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.p.log.Warn("accept failed; retrying", "err", err, "delay", delay)
				time.Sleep(delay)
				continue
			}
			return err
		}
		delay = 0
		fc := &fastConn{s: s, nc: c}
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			_ = c.Close()
			return http.ErrServerClosed
		}
		s.conns[fc] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go fc.serve()
	}
}

// Shutdown stops accepting, closes idle connections, waits for requests in
// flight (fast path and net/http) and returns when all are done or ctx
// ends. Tunnels are not touched: see Proxy.CloseTunnels.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.shutdown = true
	s.down.Store(true)
	for ln := range s.lns {
		_ = ln.Close()
	}
	s.mu.Unlock()
	s.ln.close()
	herr := s.http.Shutdown(ctx)
	for {
		s.mu.Lock()
		n := 0
		for fc := range s.conns {
			if fc.idle.Load() {
				fc.closeIdle()
			} else {
				n++
			}
		}
		s.mu.Unlock()
		if n == 0 {
			break
		}
		select {
		case <-ctx.Done():
			_ = s.Close()
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	s.stopWatch()
	s.stopHTTPReactor()
	s.wg.Wait()
	return herr
}

// Close closes every listener and connection at once.
func (s *Server) Close() error {
	s.mu.Lock()
	s.shutdown = true
	s.down.Store(true)
	for ln := range s.lns {
		_ = ln.Close()
	}
	for fc := range s.conns {
		_ = fc.nc.Close()
	}
	s.mu.Unlock()
	s.ln.close()
	err := s.http.Close()
	s.stopWatch()
	s.stopHTTPReactor()
	s.wg.Wait()
	return err
}

// handoffListener feeds connections the fast path gave up on to net/http.
type handoffListener struct {
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.close()
	return nil
}

func (l *handoffListener) close() { l.closeOnce.Do(func() { close(l.done) }) }

func (l *handoffListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// replayConn returns bytes already read from the connection before reading more.
type replayConn struct {
	net.Conn
	pending []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite half-closes the connection (tunnels forward EOF this way).
func (c *replayConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Conn.Close()
}

// SyscallConn exposes the socket once the replayed bytes are consumed.
func (c *replayConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := c.Conn.(syscall.Conn)
	if !ok || len(c.pending) > 0 {
		return nil, errors.New("proxy: no raw connection")
	}
	return sc.SyscallConn()
}

// fastConn is one client connection served by the fast path.
type fastConn struct {
	s    *Server
	nc   net.Conn
	br   *bufio.Reader
	bw   *bufio.Writer
	raw  syscall.RawConn
	rw   io.ReadWriter // what br and bw read and write: raw system calls on a socket (rawio), else nc
	idle atomic.Bool   // waiting for a request (may be closed by Shutdown)

	rdl     int64  // read deadline last set on nc (unix nanoseconds)
	remote  string // client IP
	trusted bool
	tls     bool       // nc is a *tls.Conn (X-Forwarded-Proto: https)
	acc     accessNote // the request's access log figures (Config.AccessLog)
	req     fastReq
	peek    [1]byte
	hdr     []byte // scratch: a head being written

	// The request's wait on the backend (for the response head, or for
	// the next bytes of a streamed body), published for the client-gone
	// watcher (clientwatch.go).
	upWait  atomic.Pointer[upConn] // the upstream connection awaited, nil when not waiting
	upSince atomic.Int64           // when the wait began (unix nanoseconds)

	pre  *prefixReader // replays bytes the HTTP reactor read, until they are consumed
	kept bool          // a request was served and the connection stays open

	// HTTP reactor state (httpreactor_linux.go): hs says who owns the
	// connection; the rest belongs to the reactor while it does.
	hs         atomic.Int32
	rid        uint64 // registration id, 0 before the first park
	since      int64  // parked since (unix nanoseconds)
	clientEdge bool   // the client socket became readable while a request was in flight
	in         []byte // client bytes read, the request's head first
	out        []byte // the send in flight (request or response)
	up         []byte // response bytes read
	rt         retries
	ub         *backend.Backend
	uc         *upConn
	sent       time.Time // when the request was sent
	resp       respHead
}

// States of a fastConn with respect to the HTTP reactor (fastConn.hs).
const (
	hsGoroutine int32 = iota
	hsParked          // waiting for a request
	hsBusy            // in a batch of the reactor
	hsWaiting         // waiting for a response
)

// prefixReader replays buf, then reads from r.
type prefixReader struct {
	buf []byte
	r   io.Reader
}

func (p *prefixReader) Read(b []byte) (int, error) {
	if len(p.buf) == 0 {
		return p.r.Read(b)
	}
	n := copy(b, p.buf)
	if p.buf = p.buf[n:]; len(p.buf) == 0 {
		p.buf = nil
	}
	return n, nil
}

// pending reports whether p still has bytes to replay.
func (p *prefixReader) pending() bool { return p != nil && len(p.buf) > 0 }

// consumeRequest drops the served request's head from fc.in.
func (fc *fastConn) consumeRequest() {
	fc.in = fc.in[:copy(fc.in, fc.in[fc.req.size:])]
}

// park gives the connection to the HTTP reactor until its next request,
// when there is one and nothing is buffered; false leaves it to this
// goroutine.
func (fc *fastConn) park() bool {
	s := fc.s
	if fc.raw == nil || fc.tls || s.p.cfg.AccessLog || s.down.Load() ||
		(fc.br != nil && fc.br.Buffered() > 0) || fc.pre.pending() {
		return false
	}
	hr := s.httpReactor()
	if hr == nil {
		return false
	}
	fc.pre = nil
	fc.releaseBuffers()
	return hr.park(fc)
}

// httpReactor returns the server's HTTP reactor, started on first use, or
// nil when there is none (not Linux, io_uring disabled or refused).
func (s *Server) httpReactor() *hreactor {
	s.hrOnce.Do(func() {
		if s.p.cfg.DisableIOURing {
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.shutdown {
			return
		}
		hr, err := newHReactor(s)
		if err != nil {
			s.p.log.LogAttrs(context.Background(), slog.LevelDebug, "no HTTP reactor", slog.Any("err", err))
			return
		}
		s.hr.Store(hr)
		s.wg.Go(hr.run)
		s.p.log.LogAttrs(context.Background(), slog.LevelDebug, "HTTP reactor started")
	})
	return s.hr.Load()
}

// stopHTTPReactor stops the HTTP reactor, which ends the connections it
// holds; no new one starts.
func (s *Server) stopHTTPReactor() {
	s.hrOnce.Do(func() {})
	if hr := s.hr.Load(); hr != nil {
		hr.close()
	}
}

const fastBufSize = 8 << 10

var (
	fastReaderPool sync.Pool
	fastWriterPool sync.Pool
)

func (fc *fastConn) closeIdle() {
	if fc.idle.Load() {
		_ = fc.nc.SetReadDeadline(aLongTimeAgo)
	}
}

func (fc *fastConn) serve() { fc.run(fc.start) }

// run runs body, which serves the connection on this goroutine, and ends
// the connection unless body parked it in the HTTP reactor.
func (fc *fastConn) run(body func() (handed, parked bool)) {
	handed, parked := false, false
	defer func() {
		if r := recover(); r != nil && r != http.ErrAbortHandler {
			fc.s.p.log.Error("panic serving connection", "err", r)
			parked = false
		}
		if !parked {
			fc.finish(handed)
		}
	}()
	handed, parked = body()
}

// start sets the connection up and serves it.
func (fc *fastConn) start() (handed, parked bool) {
	s := fc.s
	fc.remote = clientIP(fc.nc.RemoteAddr().String())
	if len(s.p.trusted) > 0 {
		if a, err := netip.ParseAddr(fc.remote); err == nil {
			a = a.Unmap()
			for _, pr := range s.p.trusted {
				if pr.Contains(a) {
					fc.trusted = true
				}
			}
		}
	}
	if tc, ok := fc.nc.(*tls.Conn); ok {
		if !fc.handshake(tc) {
			return false, false
		}
		if tc.ConnectionState().NegotiatedProtocol == "h2" {
			// HTTP/2 is net/http's: it takes the *tls.Conn itself, sees
			// the ALPN result and serves it with its HTTP/2 server.
			return fc.handoffConn(tc), false
		}
		fc.tls = true
	}
	fc.raw = rawio.RawConnOf(fc.nc) // nil for TLS clients
	fc.rw = fc.nc
	if fc.raw != nil {
		fc.rw = rawio.NewConn(fc.raw)
	}
	return fc.loop()
}

// finish ends the connection's life on the fast path: closed, unless it
// was handed to net/http.
func (fc *fastConn) finish(handed bool) {
	s := fc.s
	if fc.rid != 0 {
		s.hr.Load().unregister(fc)
	}
	fc.releaseBuffers()
	if !handed {
		_ = fc.nc.Close()
	}
	s.mu.Lock()
	delete(s.conns, fc)
	s.mu.Unlock()
	s.wg.Done()
}

// loop serves requests until the connection closes, is handed to net/http
// (handed), or is parked in the HTTP reactor (parked), which then owns it.
func (fc *fastConn) loop() (handed, parked bool) {
	s := fc.s
	for {
		if fc.br == nil || fc.br.Buffered() == 0 {
			// A new connection's first request is on its way: parked are
			// only connections kept open after a request.
			if fc.kept && fc.park() {
				return false, true
			}
			if !fc.waitRequest() {
				return false, false
			}
		}
		ok, err := fc.readHead()
		if err != nil {
			return false, false
		}
		if !ok || fc.fallbackPath() {
			return fc.handoff(), false
		}
		s.fastRequests.Add(1)
		if !fc.serveFast() {
			return false, false
		}
		fc.kept = true
	}
}

// handshake runs the TLS handshake of a client, bounded by
// ReadHeaderTimeout. A client speaking plain HTTP to the TLS listener is
// told so in a 400 before the connection closes.
func (fc *fastConn) handshake(tc *tls.Conn) bool {
	_ = tc.SetDeadline(time.Now().Add(fc.s.cfg.ReadHeaderTimeout))
	err := tc.Handshake()
	if err == nil {
		_ = tc.SetDeadline(time.Time{})
		return true
	}
	var re tls.RecordHeaderError
	if errors.As(err, &re) && re.Conn != nil && plainHTTPRecord(re.RecordHeader) {
		const body = "This port serves TLS only: use https or wss.\r\n"
		fc.s.p.st.answered(http.StatusBadRequest)
		_, _ = io.WriteString(re.Conn, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\n"+
			"Connection: close\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n"+body)
	}
	fc.s.p.log.LogAttrs(context.Background(), slog.LevelDebug, "tls handshake failed",
		slog.String("client", fc.nc.RemoteAddr().String()), slog.Any("err", err))
	return false
}

// plainHTTPRecord reports whether the first five bytes a client sent to
// the TLS listener look like an HTTP request line ("GET /", "POST ").
func plainHTTPRecord(h [5]byte) bool {
	for _, b := range h {
		if (b < 'A' || b > 'Z') && b != ' ' && b != '/' {
			return false
		}
	}
	return true
}

// hotWait is how long a connection waits for its next request with its
// read buffer; after that it waits without one (idle keep-alive
// connections then cost no buffer).
const hotWait = time.Second

// waitRequest waits until the next request's first bytes are buffered,
// reporting false when the connection should close (idle timeout,
// shutdown, EOF). One deadline is set per request.
func (fc *fastConn) waitRequest() bool {
	s := fc.s
	fc.idle.Store(true)
	defer fc.idle.Store(false)
	if s.down.Load() {
		return false
	}
	fc.acquireBuffers()
	// The hot deadline is renewed only when less than half of it is left:
	// timer updates on every request cost more than the imprecision.
	hot := min(hotWait, s.cfg.IdleTimeout)
	if now := time.Now().UnixNano(); fc.rdl-now < int64(hot/2) {
		fc.rdl = now + int64(hot)
		_ = fc.nc.SetReadDeadline(time.Unix(0, fc.rdl))
	}
	_, err := fc.br.Peek(1)
	if err == nil {
		return true
	}
	if !isTimeout(err) || s.down.Load() || s.cfg.IdleTimeout <= hotWait {
		return false
	}
	// Cold: give the buffers back and wait for readability without them.
	fc.br.Reset(nil)
	fc.releaseBuffers()
	fc.rdl = time.Now().Add(s.cfg.IdleTimeout - hotWait).UnixNano()
	_ = fc.nc.SetReadDeadline(time.Unix(0, fc.rdl))
	if err := fc.waitReadable(); err != nil || s.down.Load() {
		return false
	}
	fc.acquireBuffers()
	return true
}

func (fc *fastConn) waitReadable() error {
	if fc.raw == nil {
		_, err := fc.acquireAndPeek()
		return err
	}
	return fc.raw.Read(func(fd uintptr) bool {
		_, e := rawio.Peek(int(fd), fc.peek[:])
		return e != syscall.EAGAIN && e != syscall.EWOULDBLOCK
	})
}

func (fc *fastConn) acquireAndPeek() ([]byte, error) {
	fc.acquireBuffers()
	return fc.br.Peek(1)
}

func (fc *fastConn) acquireBuffers() {
	if fc.br == nil {
		if r, ok := fastReaderPool.Get().(*bufio.Reader); ok {
			r.Reset(fc.rw)
			fc.br = r
		} else {
			fc.br = bufio.NewReaderSize(fc.rw, fastBufSize)
		}
	}
	if fc.bw == nil {
		if w, ok := fastWriterPool.Get().(*bufio.Writer); ok {
			w.Reset(fc.rw)
			fc.bw = w
		} else {
			fc.bw = bufio.NewWriterSize(fc.rw, fastBufSize)
		}
	}
}

func (fc *fastConn) releaseBuffers() {
	if fc.br != nil && fc.br.Buffered() == 0 {
		fc.br.Reset(nil)
		fastReaderPool.Put(fc.br)
		fc.br = nil
	}
	if fc.bw != nil && fc.bw.Buffered() == 0 {
		fc.bw.Reset(nil)
		fastWriterPool.Put(fc.bw)
		fc.bw = nil
	}
}

// readHead buffers a complete request head and parses it. ok is false when
// the request is not for the fast path (the bytes stay buffered).
func (fc *fastConn) readHead() (ok bool, err error) {
	deadlineSet := false
	for {
		buf, _ := fc.br.Peek(fc.br.Buffered())
		if len(buf) > 0 {
			if parseFast(buf, &fc.req) {
				return true, nil
			}
			if fc.req.size > 0 || len(buf) >= fastBufSize ||
				bytes.Contains(buf, []byte("\n\n")) || bytes.Contains(buf, []byte("\n\r\n")) {
				return false, nil // complete but unusual, or too big: net/http decides
			}
		}
		// Need more bytes: the rest of the head must come within ReadHeaderTimeout.
		if !deadlineSet {
			deadlineSet = true
			fc.rdl = time.Now().Add(fc.s.cfg.ReadHeaderTimeout).UnixNano()
			_ = fc.nc.SetReadDeadline(time.Unix(0, fc.rdl))
		}
		if _, err := fc.br.Peek(len(buf) + 1); err != nil {
			if err == bufio.ErrBufferFull || (len(buf) > 0 && !isTimeout(err)) {
				// A big head, or a truncated one: net/http answers as it does.
				return false, nil
			}
			return false, err
		}
	}
}

func (fc *fastConn) fallbackPath() bool {
	for _, p := range fc.s.cfg.FallbackPrefixes {
		if pathHasPrefix(fc.req.target, p) {
			return true
		}
	}
	return false
}

// pathHasPrefix reports whether target's path is prefix or lies under it.
func pathHasPrefix(target []byte, prefix string) bool {
	if len(target) < len(prefix) || string(target[:len(prefix)]) != prefix {
		return false
	}
	if len(target) == len(prefix) || strings.HasSuffix(prefix, "/") {
		return true
	}
	c := target[len(prefix)]
	return c == '/' || c == '?'
}

// handoff gives the connection, with what was read, to net/http.
func (fc *fastConn) handoff() bool {
	var pending []byte
	if fc.br != nil && fc.br.Buffered() > 0 {
		p, _ := fc.br.Peek(fc.br.Buffered())
		pending = append([]byte(nil), p...)
		_, _ = fc.br.Discard(len(p))
	}
	_ = fc.nc.SetReadDeadline(time.Time{})
	return fc.handoffConn(&replayConn{Conn: fc.nc, pending: pending})
}

// handoffConn gives c to net/http; false when the server is closing.
func (fc *fastConn) handoffConn(c net.Conn) bool {
	// Counted before net/http can answer: whoever sees the answer sees
	// the count.
	fc.s.handoffs.Add(1)
	select {
	case fc.s.ln.ch <- c:
		return true
	case <-fc.s.ln.done:
		fc.s.handoffs.Add(-1)
		return false
	}
}

// serveFast forwards one fast-path request; it reports whether the
// connection can serve another request.
func (fc *fastConn) serveFast() bool {
	p := fc.s.p
	r := &fc.req
	defer func() { _, _ = fc.br.Discard(r.size) }()
	if p.cfg.AccessLog {
		// Runs before the Discard above: r's bytes are still in br.
		fc.acc = accessNote{}
		defer fc.logAccess(time.Now())
	}
	if len(r.via) > 0 && viaBytesHasNode(r.via, p.cfg.NodeID) {
		p.log.LogAttrs(context.Background(), slog.LevelWarn, "request loop", slog.String("uri", string(r.target)))
		return fc.simple(http.StatusLoopDetected, "text/plain; charset=utf-8", "loop detected: request already passed "+p.cfg.NodeID+"\n", "") && !r.close
	}
	_, rawQuery, _ := strings.Cut(bytesToString(r.target), "?")
	isEIO, sid := eioQuery(rawQuery)
	var sticky *backendRef
	if isEIO && sid != "" {
		b := p.sticky.get(sid)
		if b == nil {
			return fc.simple(http.StatusBadRequest, "application/json", `{"code":1,"message":"Session ID unknown"}`, "") && !r.close
		}
		sticky = &backendRef{b}
	}
	return fc.proxyFast(sticky, isEIO && sid == "")
}

// logAccess writes the access log line of the request just served.
func (fc *fastConn) logAccess(start time.Time) {
	r := &fc.req
	fc.s.p.logAccess(context.Background(), fc.remote, string(r.method), string(r.target), fc.acc, time.Since(start))
}

func (fc *fastConn) simple(status int, ctype, body, extra string) bool {
	fc.s.p.st.answered(status)
	fc.acc.status, fc.acc.bytes = status, int64(len(body))
	bw := fc.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(status))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(status))
	bw.WriteString("\r\nContent-Type: ")
	bw.WriteString(ctype)
	bw.WriteString("\r\nContent-Length: ")
	bw.WriteString(strconv.Itoa(len(body)))
	bw.WriteString("\r\nX-Content-Type-Options: nosniff\r\n")
	bw.WriteString(extra)
	if fc.req.close {
		bw.WriteString("Connection: close\r\n")
	}
	bw.WriteString("\r\n")
	if string(fc.req.method) != http.MethodHead {
		bw.WriteString(body)
	}
	return bw.Flush() == nil
}
