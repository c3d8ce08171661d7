//go:build linux

package proxy

import (
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// hreactor serves keep-alive HTTP/1.1 client connections from one epoll
// set, between requests and through the plain ones. A connection's first
// request is served by its goroutine (serve); when that goroutine has
// nothing more to read, it parks the connection here and ends. From then
// on, for each request the reactor reads the head, picks a backend, takes
// one of its pooled connections and sends the request; when the response
// is in, it sends it to the client. The sends of one batch of events are
// made in one io_uring submission (as the tunnel reactor does, see
// reactor.stage): every peer of the batch is written, and woken, before
// any of them runs, instead of one peer preempting the proxy after each
// write(2). With GET / answered in 13 bytes by three backends sharing the
// two CPUs with the load, this took the proxy from about 0.26 to 0.08 time
// slices per request, and the backends from 1.0 to 0.5: they find several
// requests per wake-up.
//
// Only the common case is served here: a request the fast-path parser
// takes whole (bodyless HTTP/1.1), not for an Engine.IO session, without
// access log or loop; an idle pooled backend connection; a response whose
// head and Content-Length body fit one upstream buffer. Anything else is
// handed, at the point where it turns out, to a goroutine that goes on as
// serve would (resume, proxyWith): the bytes already read are replayed
// through a prefixReader, and a backend once picked stays picked.
//
// The connection's state (fastConn.hs) says who owns it: its goroutine
// (hsGoroutine), or the reactor, waiting for a request (hsParked) or for a
// response (hsWaiting). Registrations are edge-triggered and kept for the
// connection's life; an edge for a connection the reactor does not own is
// ignored, and park closes the race with bytes that came before it. A
// ticker sweeps every httpSweepEvery for responses past
// ResponseHeaderTimeout (504), clients the client-gone watcher found gone,
// and parked connections past IdleTimeout.
type hreactor struct {
	s      *Server
	f      *os.File // the epoll descriptor, in Go's netpoller
	rc     syscall.RawConn
	ring   *rawio.SendRing
	tick   *os.File // the sweep's timerfd
	tickRC syscall.RawConn

	served atomic.Int64 // requests answered by the reactor itself

	mu     sync.Mutex // guards conns, ups, nextID, closed
	conns  map[uint64]*fastConn
	ups    map[uint64]*upConn
	nextID uint64 // client ids are even, upstream ids odd
	closed bool

	// Owned by the run goroutine.
	events  [128]syscall.EpollEvent
	batch   []hitem
	again   []*fastConn // parked connections with bytes to serve now
	waiting map[*fastConn]struct{}
	now     time.Time
	swept   bool
}

// hitem is one event of a batch and what stage did with it.
type hitem struct {
	fc   *fastConn
	up   bool   // the event is fc's upstream connection's
	ev   uint32 // the event mask (0 for a connection served again from r.again)
	how  uint8
	fd   int // hSentUp, hSentClient: the destination, held open until the submit
	send int // hSentUp, hSentClient: the send's index in the ring
	att  attempt
}

// What stage decided for an item; settle carries it out.
const (
	hNothing    = iota // nothing to do (a stale edge, or a head still coming)
	hClose             // the client closed or failed: end the connection
	hLoop              // a goroutine serves the connection (serve's loop)
	hRedo              // a goroutine makes the request's attempts, the backend picked
	hResume            // a goroutine finishes the response the reactor began
	hFailed            // the attempt failed (att): a goroutine goes on from there
	hSentUp            // the request is queued to the backend
	hSentClient        // the response is queued to the client
)

const (
	httpSweepEvery = 250 * time.Millisecond
	hreactorTickID = 2
	hreactorFirst  = 4
	hInBufSize     = fastBufSize
)

var hBufPool = sync.Pool{New: func() any { b := make([]byte, 0, hInBufSize); return &b }}

func getHBuf() []byte { return (*hBufPool.Get().(*[]byte))[:0] }

// putHBuf returns b to the pool, unless it is nil or grew past its size.
func putHBuf(b []byte) {
	if cap(b) == hInBufSize {
		b = b[:0]
		hBufPool.Put(&b)
	}
}

func newHReactor(s *Server) (*hreactor, error) {
	f, rc, err := newEpoll("proxy-http-reactor")
	if err != nil {
		return nil, err
	}
	r := &hreactor{s: s, f: f, rc: rc, conns: map[uint64]*fastConn{}, ups: map[uint64]*upConn{},
		nextID: hreactorFirst, waiting: map[*fastConn]struct{}{}}
	fail := func(err error) (*hreactor, error) {
		r.release()
		return nil, err
	}
	if r.ring, err = rawio.NewSendRing(len(r.events)); err != nil {
		return fail(err)
	}
	if r.tick, err = rawio.NewTicker(httpSweepEvery); err != nil {
		return fail(err)
	}
	if r.tickRC, err = r.tick.SyscallConn(); err != nil {
		return fail(err)
	}
	if err := epollCtl(r.rc, r.tickRC, syscall.EPOLL_CTL_ADD, hreactorTickID, syscall.EPOLLIN|epollET); err != nil {
		return fail(err)
	}
	return r, nil
}

func (r *hreactor) release() {
	if r.ring != nil {
		_ = r.ring.Close()
	}
	if r.tick != nil {
		_ = r.tick.Close()
	}
	_ = r.f.Close()
}

// register adds the socket of rc, known by id, to the epoll set.
func (r *hreactor) register(rc syscall.RawConn, id uint64) error {
	return epollCtl(r.rc, rc, syscall.EPOLL_CTL_ADD, id, reactorEvents)
}

// park gives fc to the reactor until its next request; false when the
// reactor is closed or fc has bytes to read already (its goroutine goes
// on then).
func (r *hreactor) park(fc *fastConn) bool {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return false
	}
	if fc.rid == 0 {
		id := r.nextID
		if err := r.register(fc.raw, id); err != nil {
			r.mu.Unlock()
			return false
		}
		r.nextID += 2
		fc.rid = id
		r.conns[id] = fc
	}
	fc.since = time.Now().UnixNano()
	fc.idle.Store(true)
	fc.hs.Store(hsParked)
	r.mu.Unlock()
	// Bytes that came before hsParked raised no event the reactor took.
	if peerReadable(fc.raw) && fc.hs.CompareAndSwap(hsParked, hsGoroutine) {
		fc.idle.Store(false)
		return false
	}
	return true
}

// peerReadable reports whether a read on rc would not block (bytes, EOF
// or an error are waiting).
func peerReadable(rc syscall.RawConn) bool {
	ready := true
	var b [1]byte
	_ = rc.Control(func(fd uintptr) {
		_, err := rawio.Peek(int(fd), b[:])
		ready = err != syscall.EAGAIN && err != syscall.EWOULDBLOCK
	})
	return ready
}

// unregister drops fc's registration: it is closing, or net/http takes it.
func (r *hreactor) unregister(fc *fastConn) {
	r.mu.Lock()
	delete(r.conns, fc.rid)
	r.mu.Unlock()
	_ = epollCtl(r.rc, fc.raw, syscall.EPOLL_CTL_DEL, 0, 0)
	fc.rid = 0
}

// detach drops c's registration: a goroutine uses it from now on (its
// events would only wake the reactor for nothing), and the reactor
// registers it again when it next takes it from the pool.
func (r *hreactor) detach(c *upConn) {
	r.forget(c.rid)
	_ = epollCtl(r.rc, c.raw, syscall.EPOLL_CTL_DEL, 0, 0)
	c.hr, c.rid = nil, 0
}

// forget drops the registration of an upstream connection being closed.
func (r *hreactor) forget(id uint64) {
	r.mu.Lock()
	delete(r.ups, id)
	r.mu.Unlock()
}

// close stops run, which ends the connections the reactor owns.
func (r *hreactor) close() { _ = r.f.Close() }

func (r *hreactor) run() {
	defer r.shutdown()
	_ = r.rc.Read(func(epfd uintptr) bool {
		for {
			n, err := rawio.EpollWait(int(epfd), r.events[:])
			if err != nil {
				return true
			}
			if n == 0 && len(r.again) == 0 {
				return false
			}
			r.serve(n)
		}
	})
}

// shutdown ends every connection the reactor owns; later parks fail.
func (r *hreactor) shutdown() {
	r.mu.Lock()
	r.closed = true
	var owned []*fastConn
	for _, fc := range r.conns {
		if fc.hs.CompareAndSwap(hsParked, hsBusy) || fc.hs.Load() == hsWaiting {
			owned = append(owned, fc)
		}
	}
	r.mu.Unlock()
	for _, fc := range owned {
		if fc.uc != nil {
			r.dropUpstream(fc, false)
		}
		r.end(fc)
	}
	r.release()
}

// serve handles the n events of a batch and the parked connections that
// have a request buffered.
func (r *hreactor) serve(n int) {
	r.now = time.Now()
	batch := r.batch[:0]
	for _, fc := range r.again {
		if fc.hs.CompareAndSwap(hsParked, hsBusy) {
			batch = append(batch, hitem{fc: fc, send: -1})
		}
	}
	clear(r.again)
	r.again = r.again[:0]
	r.mu.Lock()
	for i := range n {
		id := eventID(&r.events[i])
		switch {
		case id == hreactorTickID:
			r.swept = false
		case id&1 == 0:
			if fc := r.conns[id]; fc != nil {
				if fc.hs.CompareAndSwap(hsParked, hsBusy) {
					batch = append(batch, hitem{fc: fc, ev: r.events[i].Events, send: -1})
				} else if fc.hs.Load() != hsGoroutine {
					// A request is in flight, or already in this batch:
					// the bytes are read once it is answered.
					fc.clientEdge = true
				}
			}
		default:
			if c := r.ups[id]; c != nil && c.owner != nil && c.owner.hs.CompareAndSwap(hsWaiting, hsBusy) {
				batch = append(batch, hitem{fc: c.owner, up: true, send: -1})
			}
		}
	}
	r.mu.Unlock()
	r.batch = batch
	r.stage(0)
	r.settle()
	if !r.swept {
		r.swept = true
		r.drainTick()
		r.sweep()
	}
}

func (r *hreactor) drainTick() {
	var b [8]byte
	_ = r.tickRC.Control(func(fd uintptr) { _, _ = rawio.Read(int(fd), b[:]) })
}

// stage works on the batch from item i: each item's sockets are held open
// (RawConn.Control) from its read until the ring is submitted, by nesting
// the rest of the batch inside the holds, so that a descriptor closed
// meanwhile by another goroutine cannot be taken by a new connection
// before the send is made. Nothing here closes a socket: settle does.
func (r *hreactor) stage(i int) {
	for ; i < len(r.batch); i++ {
		it := &r.batch[i]
		if it.up {
			if r.stageResponse(it, i) {
				return
			}
		} else if r.stageRequest(it, i) {
			return
		}
	}
	r.submit()
}

// submit queues the batch's sends, every descriptor held, in the order
// that wakes each peer the fewest times (see arrange): the requests to one
// backend together, then the responses; and makes them in one system call.
func (r *hreactor) submit() {
	for i := range r.batch {
		it := &r.batch[i]
		if it.how != hSentUp || it.send >= 0 {
			continue
		}
		b := it.fc.ub
		for j := i; j < len(r.batch); j++ {
			if x := &r.batch[j]; x.how == hSentUp && x.send < 0 && x.fc.ub == b {
				x.send = r.ring.Send(x.fd, x.fc.out)
			}
		}
	}
	for i := range r.batch {
		if it := &r.batch[i]; it.how == hSentClient {
			it.send = r.ring.Send(it.fd, it.fc.out)
		}
	}
	if r.ring.Len() > 0 {
		_ = r.ring.Submit() // a failure shows in each send's Result
	}
}

// stageRequest reads fc's next request and queues it to a backend; true
// when it staged the rest of the batch (from i+1) itself.
func (r *hreactor) stageRequest(it *hitem, i int) (nested bool) {
	fc := it.fc
	s := fc.s
	p := s.p
	cerr := fc.raw.Control(func(cfd uintptr) {
		if fc.in == nil {
			fc.in = getHBuf()
		}
		fc.clientEdge = false
		if room := cap(fc.in) - len(fc.in); room > 0 {
			n, err := rawio.Read(int(cfd), fc.in[len(fc.in):cap(fc.in)])
			switch {
			case err == syscall.EAGAIN:
				if len(fc.in) == 0 {
					return // hNothing
				}
			case err != nil || n == 0:
				it.how = hClose
				return
			default:
				fc.in = fc.in[:len(fc.in)+n]
				// A full read may have left bytes, and an EOF that came
				// with this edge shows only to the next read: read again
				// once this request is answered (no new edge will say so).
				fc.clientEdge = n == room || it.ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
			}
		}
		if s.down.Load() {
			it.how = hClose
			return
		}
		it.how = hLoop
		if !parseFast(fc.in, &fc.req) || fc.fallbackPath() {
			return
		}
		req := &fc.req
		if len(req.via) > 0 && viaBytesHasNode(req.via, p.cfg.NodeID) {
			return
		}
		if _, rawQuery, _ := strings.Cut(bytesToString(req.target), "?"); rawQuery != "" {
			if isEIO, _ := eioQuery(rawQuery); isEIO {
				return
			}
		}
		fc.rt = p.newRetries(p.reg.Snapshot(), nil)
		b, _ := fc.rt.next(nil)
		if b == nil {
			return // no backend: the goroutine answers 503
		}
		it.how = hRedo
		fc.ub = b
		c := p.upstreamFor(b).get(r.now, p.cfg.IdleConnTimeout)
		if c == nil {
			return // a new connection: dialled by the goroutine
		}
		if c.raw == nil || c.br.Buffered() > 0 || c.pre.pending() {
			p.upstreamFor(b).put(c, c.lastUsed)
			return
		}
		if c.rid == 0 {
			r.mu.Lock()
			id := r.nextID + 1
			if err := r.register(c.raw, id); err != nil {
				r.mu.Unlock()
				p.upstreamFor(b).put(c, c.lastUsed)
				return
			}
			r.nextID += 2
			c.rid, c.hr = id, r
			r.ups[id] = c
			r.mu.Unlock()
		}
		if fc.out == nil {
			fc.out = getHBuf()
		}
		fc.out = fc.appendFastRequest(fc.out[:0])
		fc.uc = c
		c.owner = fc
		b.AddInFlight(1)
		fc.sent = r.now
		fc.watchUpstream(c, r.now.UnixNano())
		uerr := c.raw.Control(func(ufd uintptr) {
			it.how, it.fd = hSentUp, int(ufd)
			r.stage(i + 1)
			nested = true
		})
		if uerr != nil {
			it.how, it.att = hFailed, attempt{out: outDeadEarly, err: uerr, reused: true}
		}
	})
	if cerr != nil && !nested {
		it.how = hClose
	}
	return nested
}

// stageResponse reads fc's response and queues it to the client; true when
// it staged the rest of the batch (from i+1) itself.
func (r *hreactor) stageResponse(it *hitem, i int) (nested bool) {
	fc := it.fc
	c := fc.uc
	if fc.upWait.Load() != c {
		it.how = hFailed // the watcher found the client gone and closed c
		it.att = attempt{out: outDone, status: statusClientGone}
		return false
	}
	uerr := c.raw.Control(func(ufd uintptr) {
		if fc.up == nil {
			fc.up = getHBuf()
		}
		n, err := rawio.Read(int(ufd), fc.up[len(fc.up):cap(fc.up)])
		switch {
		case err == syscall.EAGAIN:
			return // hNothing
		case err != nil || n == 0:
			if len(fc.up) == 0 {
				if err == nil {
					err = io.EOF
				}
				it.how, it.att = hFailed, fc.deadEarly(c, err)
			} else {
				it.how = hResume // a cut response: the goroutine answers as it does
			}
			return
		}
		fc.up = fc.up[:len(fc.up)+n]
		end := headEnd(fc.up)
		if end == 0 {
			if len(fc.up) == cap(fc.up) {
				it.how = hResume // a big head
			}
			return
		}
		h := &fc.resp
		if parseRespHead(fc.up[:end], h) != nil || h.status < 200 || h.hasTE || h.eventStream {
			it.how = hResume
			return
		}
		body := int64(0)
		if !h.bodyless(bytesToString(fc.req.method)) {
			if body = h.contentLength; body < 0 {
				it.how = hResume
				return
			}
		}
		total := int64(end) + body
		switch {
		case total > int64(cap(fc.up)) || int64(len(fc.up)) > total:
			it.how = hResume // bigger than the buffer, or bytes past the response
			return
		case int64(len(fc.up)) < total:
			return // the rest of the body is coming
		}
		if !fc.unwatchUpstream(c) {
			it.how, it.att = hFailed, attempt{out: outDone, status: statusClientGone}
			return
		}
		fc.out = appendFilteredHead(fc.out[:0], fc.up[:end], h)
		if fc.req.close {
			fc.out = append(fc.out, "Connection: close\r\n"...)
		}
		fc.out = append(fc.out, "\r\n"...)
		fc.out = append(fc.out, fc.up[end:total]...)
		cerr := fc.raw.Control(func(cfd uintptr) {
			it.how, it.fd = hSentClient, int(cfd)
			r.stage(i + 1)
			nested = true
		})
		if cerr != nil && !nested {
			it.how, it.att = hFailed, attempt{out: outDone, status: statusClientGone}
		}
	})
	if uerr != nil && !nested && it.how == hNothing {
		it.how = hResume // c was closed: the goroutine's read says how
	}
	return nested
}

// deadEarly is the attempt of a request whose connection died before any
// response byte.
func (fc *fastConn) deadEarly(c *upConn, err error) attempt {
	if idempotentMethod(fc.req.method) {
		return attempt{out: outDeadEarly, err: err, reused: c.reused}
	}
	return attempt{out: outFail, status: http.StatusBadGateway, err: err}
}

// settle carries out what stage decided, once no descriptor is held.
func (r *hreactor) settle() {
	for i := range r.batch {
		it := r.batch[i]
		r.batch[i] = hitem{}
		fc := it.fc
		switch it.how {
		case hNothing:
			if it.up {
				fc.hs.Store(hsWaiting)
				continue
			}
			if len(fc.in) == 0 && fc.in != nil {
				putHBuf(fc.in)
				fc.in = nil
			}
			fc.hs.Store(hsParked)
		case hClose:
			r.end(fc)
		case hLoop:
			r.toGoroutine(fc, nil)
		case hRedo:
			b := fc.ub
			fc.rt.redo(b)
			r.toGoroutine(fc, func() bool {
				fc.s.fastRequests.Add(1)
				keep := fc.proxyWith(&fc.rt, false, nil)
				_, _ = fc.br.Discard(fc.req.size)
				return keep
			})
		case hSentUp:
			n, err := r.ring.Result(it.send)
			fc.s.fastRequests.Add(1)
			if err == nil && n == len(fc.out) {
				fc.idle.Store(false)
				r.waiting[fc] = struct{}{}
				fc.hs.Store(hsWaiting)
				continue
			}
			if err == nil {
				err = io.ErrShortWrite
			}
			att := fc.deadEarly(fc.uc, err)
			if n > 0 {
				att = attempt{out: outFail, status: http.StatusBadGateway, err: err}
			}
			r.dropUpstream(fc, false)
			r.failed(fc, att)
		case hSentClient:
			n, err := r.ring.Result(it.send)
			b := fc.ub
			r.dropUpstream(fc, !fc.resp.close)
			b.MarkOK()
			delete(r.waiting, fc)
			rest := fc.out[n:]
			fc.consumeRequest()
			switch {
			case err == nil && len(rest) == 0:
				r.served.Add(1)
				if fc.req.close || fc.s.down.Load() {
					r.end(fc)
					continue
				}
				putHBuf(fc.out)
				fc.out = nil
				fc.hs.Store(hsParked)
				fc.idle.Store(true)
				fc.since = r.now.UnixNano()
				if len(fc.in) > 0 || fc.clientEdge {
					fc.clientEdge = false
					r.again = append(r.again, fc)
				} else if fc.in != nil {
					putHBuf(fc.in)
					fc.in = nil
				}
			case err == nil || err == syscall.EAGAIN:
				// A slow client: its goroutine writes the rest.
				out := fc.out
				fc.out = nil
				r.toGoroutine(fc, func() bool {
					_ = fc.nc.SetWriteDeadline(time.Now().Add(fc.s.p.cfg.WriteTimeout))
					if _, err := fc.rw.Write(out[n:]); err != nil {
						return false
					}
					_ = fc.nc.SetWriteDeadline(time.Time{})
					return !fc.req.close
				})
			default:
				r.end(fc)
			}
		case hResume:
			res := &resumed{b: fc.ub, c: fc.uc, start: fc.sent}
			res.c.owner = nil
			r.detach(res.c)
			if len(fc.up) > 0 {
				res.c.pre = &prefixReader{buf: fc.up, r: res.c.rw}
				res.c.br.Reset(res.c.pre)
			}
			fc.up, fc.uc = nil, nil
			r.toGoroutine(fc, func() bool {
				keep := fc.proxyWith(&fc.rt, false, res)
				_, _ = fc.br.Discard(fc.req.size)
				return keep
			})
		case hFailed:
			if it.att.status == statusClientGone && it.att.out == outDone {
				fc.s.p.clientGone(context.Background(), fc.ub, nil)
				r.dropUpstream(fc, false)
				r.end(fc)
				continue
			}
			r.dropUpstream(fc, false)
			r.failed(fc, it.att)
		}
	}
	r.batch = r.batch[:0]
}

// failed hands fc to a goroutine that goes on from a failed attempt.
func (r *hreactor) failed(fc *fastConn, att attempt) {
	res := &resumed{b: fc.ub, failed: &att}
	r.toGoroutine(fc, func() bool {
		keep := fc.proxyWith(&fc.rt, false, res)
		_, _ = fc.br.Discard(fc.req.size)
		return keep
	})
}

// dropUpstream ends fc's use of its upstream connection: back to the pool
// (keep), or closed; the backend's in-flight count drops.
func (r *hreactor) dropUpstream(fc *fastConn, keep bool) {
	c, b := fc.uc, fc.ub
	if c == nil {
		return
	}
	fc.uc = nil
	c.owner = nil
	fc.unwatchUpstream(c)
	if fc.up != nil {
		putHBuf(fc.up)
		fc.up = nil
	}
	b.AddInFlight(-1)
	if keep {
		fc.s.p.upstreamFor(b).put(c, r.now)
	} else {
		c.close()
	}
}

// toGoroutine gives fc to a new goroutine that runs first (when not nil;
// false ends the connection), then serve's loop. The request bytes the
// reactor read are replayed to it.
func (r *hreactor) toGoroutine(fc *fastConn, first func() bool) {
	delete(r.waiting, fc)
	fc.hs.Store(hsGoroutine)
	fc.idle.Store(false)
	fc.clientEdge = false
	in := fc.in
	fc.in = nil
	putHBuf(fc.out)
	fc.out = nil
	go fc.run(func() (handed, parked bool) {
		fc.acquireBuffers()
		if len(in) > 0 {
			fc.pre = &prefixReader{buf: in, r: fc.rw}
			fc.br.Reset(fc.pre)
		} else if in != nil {
			putHBuf(in)
		}
		if first != nil && !first() {
			return false, false
		}
		return fc.loop()
	})
}

// end closes fc for good.
func (r *hreactor) end(fc *fastConn) {
	delete(r.waiting, fc)
	fc.hs.Store(hsGoroutine)
	fc.idle.Store(false)
	if fc.in != nil {
		putHBuf(fc.in)
		fc.in = nil
	}
	putHBuf(fc.out)
	fc.out = nil
	fc.finish(false)
}

// sweep ends requests past ResponseHeaderTimeout (504) and those whose
// client the watcher found gone, and closes parked connections idle past
// IdleTimeout (or all of them once the server shuts down).
func (r *hreactor) sweep() {
	cfg := &r.s.p.cfg
	for fc := range r.waiting {
		switch {
		case fc.upWait.Load() != fc.uc:
			fc.s.p.clientGone(context.Background(), fc.ub, nil)
			r.dropUpstream(fc, false)
			r.end(fc)
		case r.now.Sub(fc.sent) > cfg.ResponseHeaderTimeout:
			r.dropUpstream(fc, false)
			r.failed(fc, attempt{out: outFail, status: http.StatusGatewayTimeout, err: os.ErrDeadlineExceeded})
		}
	}
	idle := r.now.Add(-r.s.cfg.IdleTimeout).UnixNano()
	down := r.s.down.Load()
	var old []*fastConn
	r.mu.Lock()
	for _, fc := range r.conns {
		if (down || fc.since < idle) && fc.hs.CompareAndSwap(hsParked, hsBusy) {
			old = append(old, fc)
		}
	}
	r.mu.Unlock()
	for _, fc := range old {
		r.end(fc)
	}
}
