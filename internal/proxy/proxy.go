package proxy

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"sync"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
)

// Proxy is the reverse proxy handler. It is safe for concurrent use. New
// starts no goroutines; upgraded connections (tunnels) run goroutines that
// CloseTunnels and Close end and wait for.
type Proxy struct {
	cfg     Config
	reg     *backend.Registry
	pol     balance.Policy
	log     *slog.Logger
	trusted []netip.Prefix
	via     string // "1.1 " + NodeID
	via2    string // "2.0 " + NodeID, for HTTP/2 requests
	dialer  net.Dialer
	sticky  *stickyTable
	unsub   func()

	ups sync.Map // *backend.Backend → *upstream

	mu      sync.Mutex // guards tunnels, closed, reactors, reactorErr, nextReactor
	tunnels map[*tunnel]struct{}
	closed  bool
	wg      sync.WaitGroup // tunnel goroutines and the reactors
	// reactors serve tunnels (Linux), one per two Ps; started with the
	// first tunnel; tunnels are spread over them round robin.
	reactors    []*reactor
	reactorErr  error
	nextReactor int

	closeOnce sync.Once

	st counters

	testHookClosing func() // called by CloseTunnels once every tunnel was told to close
	testHookHandoff func() // called when the reactor hands a direction to a goroutine
	testHookRearmed func() // called when a goroutine gave a direction back to the reactor
	testArena       int    // when not 0, the reactors' staging buffer is cut to this size
}

var _ http.Handler = (*Proxy)(nil)

// New returns a proxy forwarding to the backends of reg chosen by pol.
// It fails only on an invalid Config.TrustedProxies entry.
func New(cfg Config, reg *backend.Registry, pol balance.Policy, logger *slog.Logger) (*Proxy, error) {
	cfg = cfg.withDefaults()
	trusted, err := ParseTrustedProxies(cfg.TrustedProxies)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		cfg:     cfg,
		reg:     reg,
		pol:     pol,
		log:     logger.With("component", "proxy", "node_id", cfg.NodeID),
		trusted: trusted,
		via:     "1.1 " + cfg.NodeID,
		via2:    "2.0 " + cfg.NodeID,
		sticky:  newStickyTable(cfg.MaxStickySessions, cfg.StickyIdleTimeout),
		tunnels: map[*tunnel]struct{}{},
	}
	p.dialer.Timeout = cfg.DialTimeout
	p.unsub = reg.Subscribe(p.onPoolChange)
	return p, nil
}

// NodeID returns the node id used in Via (the configured one or the generated default).
func (p *Proxy) NodeID() string { return p.cfg.NodeID }

// StickySessions returns the number of Engine.IO sessions the proxy routes.
func (p *Proxy) StickySessions() int { return p.sticky.len() }

func (p *Proxy) onPoolChange(ev backend.Event) {
	if ev.Kind != backend.Left {
		return
	}
	if v, ok := p.ups.LoadAndDelete(ev.Backend); ok {
		v.(*upstream).closeAll()
	}
	p.sticky.dropBackend(ev.Backend)
}

func (p *Proxy) upstreamFor(b *backend.Backend) *upstream {
	if v, ok := p.ups.Load(b); ok {
		return v.(*upstream)
	}
	u := &upstream{b: b, maxIdle: p.cfg.MaxIdleConnsPerBackend}
	v, loaded := p.ups.LoadOrStore(b, u)
	if !loaded && p.reg.Get(b.ID) != b {
		// b left the pool while the request was on its way: pool nothing.
		p.ups.Delete(b)
		u.closeAll()
	}
	return v.(*upstream)
}

// Close stops the proxy: it closes every tunnel at once (use CloseTunnels
// first for a graceful 1001), closes pooled connections and waits for the
// tunnel goroutines. Idempotent.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.unsub()
		p.mu.Lock()
		p.closed = true
		ts := make([]*tunnel, 0, len(p.tunnels))
		for t := range p.tunnels {
			ts = append(ts, t)
		}
		p.mu.Unlock()
		for _, t := range ts {
			t.abort()
		}
		p.mu.Lock()
		rs := p.reactors
		p.mu.Unlock()
		for _, rc := range rs {
			rc.close()
		}
		p.ups.Range(func(k, v any) bool {
			v.(*upstream).closeAll()
			p.ups.Delete(k)
			return true
		})
	})
	p.wg.Wait()
	return nil
}

// outcome of one attempt at forwarding a request.
type outcome int

const (
	outDone      outcome = iota // a response (or tunnel) was delivered, or the client left
	outDialFail                 // could not connect: try another backend
	outDeadEarly                // connection died before any response byte
	outFail                     // respond with the status in attempt.status
)

type attempt struct {
	out    outcome
	status int
	err    error
	// reused: an outDeadEarly on a pooled connection, which the backend
	// may have closed (its keep-alive timeout) just as it was taken.
	reused bool
}

// ServeHTTP forwards r to a backend.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p.cfg.AccessLog {
		p.serveLogged(w, r)
		return
	}
	p.serve(w, r)
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	if vias := r.Header["Via"]; len(vias) > 0 && viaHasNode(vias, p.cfg.NodeID) {
		p.log.LogAttrs(r.Context(), slog.LevelWarn, "request loop", slog.String("uri", r.RequestURI))
		p.writeError(w, http.StatusLoopDetected, "loop detected: request already passed "+p.cfg.NodeID)
		return
	}
	upgrade := upgradeType(r.Header)
	isEIO, sid := eioQuery(r.URL.RawQuery)
	var sticky *backend.Backend
	if isEIO && sid != "" {
		if sticky = p.sticky.get(sid); sticky == nil {
			p.sessionUnknown(w)
			return
		}
	}
	learn := isEIO && sid == "" && upgrade == ""
	f := p.forwardedFor(r)
	rt := p.newRetries(p.reg.Snapshot(), sticky)
	var last attempt
	for {
		b, fresh := rt.next(r)
		if b == nil {
			break
		}
		last = p.forward(w, r, b, upgrade, learn, &f, fresh)
		switch last.out {
		case outDone:
			return
		case outFail:
			p.writeError(w, last.status, http.StatusText(last.status))
			return
		}
		switch rt.failed(b, last) {
		case retryGiveUpDead:
			p.writeError(w, http.StatusBadGateway, "backend closed the connection")
			return
		case retryGiveUpStick:
			p.sticky.dropBackend(b)
			p.sessionUnknown(w)
			return
		}
	}
	status, msg := exhausted(last)
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	p.writeError(w, status, msg)
}

// pick asks the policy for a backend, skipping those already tried.
func (p *Proxy) pick(pool []*backend.Backend, r *http.Request, tried []*backend.Backend) *backend.Backend {
	for range len(pool) + 1 {
		b := p.pol.Pick(pool, r)
		if b == nil {
			return nil
		}
		seen := false
		for _, t := range tried {
			if t == b {
				seen = true
				break
			}
		}
		if !seen {
			return b
		}
	}
	return nil
}

// aLongTimeAgo is a deadline in the past, used to interrupt blocked I/O.
var aLongTimeAgo = time.Unix(1, 0)

// forward makes one attempt at serving r through backend b; fresh skips
// the pool of idle connections.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, b *backend.Backend, upgrade string, learn bool, f *forwarded, fresh bool) (res attempt) {
	noteBackend(w, b)
	b.AddInFlight(1)
	defer b.AddInFlight(-1)
	ctx := r.Context()
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
		c, err = p.dial(ctx, b)
		if err != nil {
			if ctx.Err() != nil {
				p.clientGone(r.Context(), b, err)
				panic(http.ErrAbortHandler) // nobody to answer; never let net/http send an empty 200
			}
			d := b.MarkFailed(now)
			p.log.LogAttrs(ctx, slog.LevelWarn, "backend dial failed",
				slog.String("backend_id", b.ID), slog.String("backend_addr", b.Addr),
				slog.Duration("out_of_rotation", d), slog.Any("err", err))
			return attempt{out: outDialFail, err: err}
		}
	}
	keep := false // return c to the pool at the end
	hijacked := false
	defer func() {
		if hijacked {
			return
		}
		if keep {
			u.put(c, time.Now())
		} else {
			c.close()
		}
	}()
	_ = c.nc.SetDeadline(now.Add(p.cfg.ResponseHeaderTimeout))
	c.rdl = 0 // cleared below, or the connection is not reused
	stop := context.AfterFunc(ctx, func() { _ = c.nc.SetDeadline(aLongTimeAgo) })
	defer func() {
		if !stop() {
			keep = false // the deadline was poisoned by the cancellation
		}
	}()

	framing := requestFraming(r)
	p.writeRequestHead(c.bw, r, upgrade, framing, f)
	if err := writeRequestBody(c.bw, r, framing); err != nil {
		if ctx.Err() == nil && errors.Is(err, errClientBody) {
			return attempt{out: outFail, status: http.StatusBadRequest, err: err}
		}
		if ctx.Err() != nil {
			p.clientGone(r.Context(), b, err)
			panic(http.ErrAbortHandler)
		}
		return p.earlyFailure(r, b, c, err, upgrade)
	}
	if _, err := c.br.Peek(1); err != nil {
		if ctx.Err() != nil {
			p.clientGone(r.Context(), b, err)
			panic(http.ErrAbortHandler) // nobody to answer; never let net/http send an empty 200
		}
		return p.earlyFailure(r, b, c, err, upgrade)
	}
	var h respHead
	hdr := w.Header()
	if err := readHead(c.br, &h, hdr, p.cfg.MaxResponseHeaderBytes); err != nil {
		clear(hdr)
		if ctx.Err() != nil {
			p.clientGone(r.Context(), b, err)
			panic(http.ErrAbortHandler) // nobody to answer; never let net/http send an empty 200
		}
		p.log.LogAttrs(ctx, slog.LevelDebug, "bad response head", slog.String("backend_id", b.ID), slog.Any("err", err))
		if isTimeout(err) {
			return attempt{out: outFail, status: http.StatusGatewayTimeout, err: err}
		}
		return attempt{out: outFail, status: http.StatusBadGateway, err: err}
	}
	b.MarkOK()
	if h.status == http.StatusSwitchingProtocols {
		if upgrade == "" || !asciiEqualFold([]byte(h.upgrade), upgrade) {
			clear(hdr)
			return attempt{out: outFail, status: http.StatusBadGateway, err: errMalformed}
		}
		if !stop() {
			p.clientGone(r.Context(), b, ctx.Err())
			panic(http.ErrAbortHandler) // nobody to answer; never let net/http send an empty 200
		}
		_ = c.nc.SetDeadline(time.Time{})
		hijacked = p.startTunnel(w, r, b, c, &h)
		if hijacked {
			noteTunnel(w)
		}
		return attempt{out: outDone}
	}
	_ = c.nc.SetDeadline(time.Time{})
	if upgrade != "" {
		h.close = true // the backend declined the upgrade; do not reuse
	}

	var trailers http.Header
	if h.chunked {
		trailers = hdr
	}
	body := newBodyReader(c.br, &h, r.Method, trailers, p.cfg.MaxResponseHeaderBytes)
	body.trailerPrefix = http.TrailerPrefix
	flushEach := body.chunked || body.untilEOF || isEventStream(hdr)
	w.WriteHeader(h.status)
	var flusher http.Flusher
	if flushEach {
		flusher, _ = w.(http.Flusher)
		if flusher != nil {
			flusher.Flush() // headers now: SSE clients wait for them
		}
	}
	first := true
	for {
		data, err := body.next(32 << 10)
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				p.clientGone(r.Context(), b, err)
				panic(http.ErrAbortHandler) // nobody to answer; never let net/http send an empty 200
			}
			p.log.LogAttrs(ctx, slog.LevelDebug, "backend body failed", slog.String("backend_id", b.ID), slog.Any("err", err))
			panic(http.ErrAbortHandler) // the client must see a broken response, not a short one
		}
		if first && learn && h.status == http.StatusOK {
			if sid := sidFromHandshake(data[:min(len(data), p.cfg.StickyPeekBytes)]); sid != "" {
				p.sticky.put(sid, b)
			}
		}
		first = false
		_, werr := w.Write(data)
		if cerr := body.consume(len(data)); cerr != nil && werr == nil {
			p.log.LogAttrs(ctx, slog.LevelDebug, "backend body failed", slog.String("backend_id", b.ID), slog.Any("err", cerr))
			panic(http.ErrAbortHandler)
		}
		if werr != nil {
			p.clientGone(r.Context(), b, werr)
			panic(http.ErrAbortHandler) // nobody to answer; never let net/http send an empty 200
		}
		if flusher != nil {
			flusher.Flush()
		}
	}
	keep = !h.close && !body.untilEOF
	return attempt{out: outDone}
}

// earlyFailure classifies an error before any response byte arrived.
func (p *Proxy) earlyFailure(r *http.Request, b *backend.Backend, c *upConn, err error, upgrade string) attempt {
	if isTimeout(err) {
		p.log.LogAttrs(r.Context(), slog.LevelDebug, "backend timeout", slog.String("backend_id", b.ID), slog.Any("err", err))
		return attempt{out: outFail, status: http.StatusGatewayTimeout, err: err}
	}
	p.log.LogAttrs(r.Context(), slog.LevelDebug, "backend connection died",
		slog.String("backend_id", b.ID), slog.Bool("reused", c.reused), slog.Any("err", err))
	if upgrade == "" && idempotent(r) {
		return attempt{out: outDeadEarly, err: err, reused: c.reused}
	}
	return attempt{out: outFail, status: http.StatusBadGateway, err: err}
}

// clientGone counts and logs a request abandoned by its client while it
// waited on backend b (status 499, no backend penalty), on either front.
// The caller then ends the request.
func (p *Proxy) clientGone(ctx context.Context, b *backend.Backend, err error) {
	p.st.clientGone.Add(1)
	if p.log.Enabled(ctx, slog.LevelDebug) {
		p.log.LogAttrs(ctx, slog.LevelDebug, "client gone",
			slog.Int("status", statusClientGone), slog.String("backend_id", b.ID), slog.Any("err", err))
	}
}

func isEventStream(h http.Header) bool {
	ct := h["Content-Type"]
	return len(ct) > 0 && len(ct[0]) >= 17 && asciiEqualFold([]byte(ct[0][:17]), "text/event-stream")
}

func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError writes an answer of the proxy's own (counted).
func (p *Proxy) writeError(w http.ResponseWriter, status int, msg string) {
	p.st.answered(status)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg+"\n")
}

// sessionUnknown answers like an Engine.IO server that does not know the sid,
// so clients start a new session.
func (p *Proxy) sessionUnknown(w http.ResponseWriter) {
	p.st.answered(http.StatusBadRequest)
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = io.WriteString(w, `{"code":1,"message":"Session ID unknown"}`)
}

// errClientBody marks a failure reading the client's request body.
var errClientBody = errors.New("proxy: reading request body")

// writeRequestBody sends r's body with the given framing and flushes bw.
func writeRequestBody(bw interface {
	io.Writer
	Flush() error
}, r *http.Request, framing int) error {
	switch framing {
	case framingLength, framingChunked:
		buf := getBuf()
		defer putBuf(buf)
		for {
			n, rerr := r.Body.Read(*buf)
			if n > 0 {
				if framing == framingChunked {
					var hx [20]byte
					b := appendHex(hx[:0], uint64(n))
					b = append(b, '\r', '\n')
					if _, err := bw.Write(b); err != nil {
						return err
					}
				}
				if _, err := bw.Write((*buf)[:n]); err != nil {
					return err
				}
				if framing == framingChunked {
					if _, err := bw.Write([]byte("\r\n")); err != nil {
						return err
					}
					if err := bw.Flush(); err != nil {
						return err
					}
				}
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return errors.Join(errClientBody, rerr)
			}
		}
		if framing == framingChunked {
			if _, err := bw.Write([]byte("0\r\n\r\n")); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

func appendHex(b []byte, n uint64) []byte {
	const digits = "0123456789abcdef"
	if n == 0 {
		return append(b, '0')
	}
	var tmp [16]byte
	i := len(tmp)
	for n > 0 {
		i--
		tmp[i] = digits[n&15]
		n >>= 4
	}
	return append(b, tmp[i:]...)
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func getBuf() *[]byte  { return bufPool.Get().(*[]byte) }
func putBuf(b *[]byte) { bufPool.Put(b) }

// spawn runs fn on a goroutine that Close waits for.
func (p *Proxy) spawn(fn func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		fn()
	}()
}

// reactorLocked returns the reactor for a new tunnel, starting the
// reactors on first use, or nil when they are unavailable (non-Linux, or
// epoll failed). Called with p.mu held.
func (p *Proxy) reactorLocked() *reactor {
	if p.reactors == nil && p.reactorErr == nil {
		n := reactorCount()
		for range n {
			rc, err := newReactor(p.spawn, !p.cfg.DisableIOURing)
			if err != nil {
				p.reactorErr = err
				break
			}
			if p.testArena > 0 {
				rc.cutArena(p.testArena)
			}
			p.reactors = append(p.reactors, rc)
			p.spawn(rc.run)
		}
		if len(p.reactors) > 0 {
			rc := p.reactors[0]
			if rc.ringErr != nil {
				p.log.LogAttrs(context.Background(), slog.LevelInfo, "tunnels write with write(2): io_uring unavailable",
					slog.Any("err", rc.ringErr))
			}
			p.log.LogAttrs(context.Background(), slog.LevelDebug, "tunnel reactors started",
				slog.Int("reactors", len(p.reactors)), slog.Bool("io_uring", rc.usesRing()))
		}
	}
	if len(p.reactors) == 0 {
		return nil
	}
	p.nextReactor = (p.nextReactor + 1) % len(p.reactors)
	return p.reactors[p.nextReactor]
}

// arenaSize is the staging buffer of a reactor with a send ring (Linux);
// a direction is staged only while minStageRead bytes are left (echoed
// messages are small: a full batch of them fits many times over).
const (
	arenaSize    = 256 << 10
	minStageRead = 4 << 10
)

// reactorCount is how many reactors serve tunnels: one per two Ps. At
// GOMAXPROCS=2 one reactor took ~10% less CPU per echoed message than two
// (bigger batches per wake-up) at the same throughput, and it leaves a P
// for the HTTP traffic.
func reactorCount() int { return max(1, (runtime.GOMAXPROCS(0)+1)/2) }
