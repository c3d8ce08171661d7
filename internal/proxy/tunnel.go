package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/rawio"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// tunnel is one upgraded connection: bytes copied both ways between the
// client and the backend. On Linux both directions are served by an epoll
// reactor (copied inline while the peers keep up; handed to a goroutine
// only while a destination is slow or a transfer is bulky, and whenever
// one end is TLS, which the reactor cannot read or write) and an idle
// direction holds no goroutine or buffer; elsewhere a direction has a
// goroutine, which waits for readability without holding a buffer unless
// its source is TLS. Copies never use splice, so no pipe descriptors.
type tunnel struct {
	p      *Proxy
	b      *backend.Backend
	client net.Conn
	server net.Conn
	ws     bool // the tunnel carries WebSocket: frames are tracked for a clean 1001

	up   dir // client → server
	down dir // server → client

	lastActive atomic.Int64 // unix nanoseconds, for TunnelIdleTimeout
	halfClosed atomic.Bool  // one direction reached EOF
	ended      atomic.Int32 // directions that stopped
	finishOnce sync.Once
	done       chan struct{} // closed when the tunnel is finished

	mu        sync.Mutex  // guards halfTimer, idleTimer, finished and reactor registration
	halfTimer *time.Timer // finishes a half-closed tunnel whose other side lingers
	idleTimer *time.Timer // finishes a tunnel idle for TunnelIdleTimeout
	finished  bool        // finish began: no new reactor registration
}

// States of a reactor-served direction.
const (
	dirArmed   int32 = iota // waiting in the reactor
	dirInline               // the reactor goroutine is copying it
	dirPumping              // a pump goroutine is copying
	dirOwned                // a goroutine (run) owns it for good, or it ended: graceful close, EOF, no reactor
)

// dir is one direction of a tunnel.
type dir struct {
	t        *tunnel
	src, dst net.Conn
	raw      syscall.RawConn // of src's socket (under TLS too), nil when it cannot be polled
	buffered bool            // src may hold bytes its socket no longer has (TLS): raw is polled, never read
	dstRaw   syscall.RawConn // of dst, nil when dst cannot be written raw (TLS)
	toServer bool            // frames injected toward the server are masked
	scan     ws.FrameScanner // owned by whichever goroutine copies
	closing  atomic.Bool     // CloseTunnels asked for a 1001 at the next boundary
	deadline atomic.Int64    // unix nanoseconds: give up the graceful close then
	state    atomic.Int32    // dirArmed / dirInline / dirPumping / dirOwned
	stopped  atomic.Bool     // end was called
	rc       *reactor        // set with rid under t.mu when registered
	rid      uint64          // reactor id, 0 when not registered
	peek     [1]byte
}

// startTunnel hijacks the client connection after a 101 from the backend,
// sends the client the 101 head and starts copying. It reports whether it
// took ownership of c (otherwise the caller closes it).
func (p *Proxy) startTunnel(w http.ResponseWriter, r *http.Request, b *backend.Backend, c *upConn, h *respHead) bool {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	if closed {
		clear(w.Header())
		p.writeError(w, http.StatusServiceUnavailable, "shutting down")
		return false
	}
	hdr := w.Header()
	head := make([]byte, 0, 512)
	head = append(head, "HTTP/1.1 101 Switching Protocols\r\n"...)
	for k, vv := range hdr {
		for _, v := range vv {
			head = append(head, k...)
			head = append(head, ": "...)
			head = append(head, v...)
			head = append(head, "\r\n"...)
		}
	}
	head = append(head, "Connection: Upgrade\r\nUpgrade: "...)
	head = append(head, h.upgrade...)
	head = append(head, "\r\n\r\n"...)
	headLen := len(head)
	if n := c.br.Buffered(); n > 0 {
		pending, _ := c.br.Peek(n)
		head = append(head, pending...)
	}
	cc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		clear(hdr)
		p.writeError(w, http.StatusBadGateway, "cannot upgrade this connection")
		return false
	}
	var fromClient []byte
	if n := brw.Reader.Buffered(); n > 0 {
		pending, _ := brw.Reader.Peek(n)
		fromClient = append([]byte(nil), pending...)
	}
	brw = nil
	_ = cc.SetDeadline(time.Time{})
	sc := c.nc
	c.releaseBuffers()

	t := &tunnel{
		p: p, b: b, client: cc, server: sc,
		ws:   asciiEqualFold([]byte(h.upgrade), "websocket"),
		done: make(chan struct{}),
	}
	t.up = dir{t: t, dst: sc, toServer: true}
	t.down = dir{t: t, dst: cc}
	t.up.setSrc(cc)
	t.down.setSrc(sc)
	t.up.dstRaw, t.down.dstRaw = t.down.rawWritable(), t.up.rawWritable()
	t.lastActive.Store(time.Now().UnixNano())
	if t.ws {
		t.down.scan.Feed(head[headLen:])
		t.up.scan.Feed(fromClient)
	}
	_ = cc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout))
	_, err = cc.Write(head)
	_ = cc.SetWriteDeadline(time.Time{})
	if err == nil && len(fromClient) > 0 {
		_ = sc.SetWriteDeadline(time.Now().Add(p.cfg.WriteTimeout))
		_, err = sc.Write(fromClient)
		_ = sc.SetWriteDeadline(time.Time{})
	}
	if err != nil {
		_ = cc.Close()
		_ = sc.Close()
		return true
	}

	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		_ = cc.Close()
		_ = sc.Close()
		return true
	}
	p.tunnels[t] = struct{}{}
	rc := p.reactorLocked()
	p.mu.Unlock()
	b.AddTunnels(1)
	p.log.LogAttrs(r.Context(), slog.LevelDebug, "tunnel open",
		slog.String("backend_id", b.ID), slog.String("upgrade", h.upgrade))
	if idle := p.cfg.TunnelIdleTimeout; idle > 0 {
		t.watchIdle(idle)
	}
	for _, d := range []*dir{&t.up, &t.down} {
		if rc != nil && d.raw != nil && t.register(rc, d) {
			if d.buffered {
				// Records the front end read past the request wait in
				// the TLS connection, where epoll cannot see them.
				rc.takeOver(d)
			}
			continue // served by the reactor from now on
		}
		d.state.Store(dirOwned)
		p.spawn(d.run)
	}
	return true
}

// register adds d to rc unless the tunnel is already finishing.
func (t *tunnel) register(rc *reactor, d *dir) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return false
	}
	return rc.add(d) == nil
}

// abort finishes the tunnel at once: both connections are closed.
func (t *tunnel) abort() { t.finish() }

// finish closes both connections and forgets the tunnel. Idempotent.
func (t *tunnel) finish() {
	t.finishOnce.Do(func() {
		t.mu.Lock()
		t.finished = true
		if t.halfTimer != nil {
			t.halfTimer.Stop()
		}
		if t.idleTimer != nil {
			t.idleTimer.Stop()
		}
		t.mu.Unlock()
		for _, d := range []*dir{&t.up, &t.down} {
			if d.rc != nil {
				d.rc.remove(d)
			}
		}
		_ = t.client.Close()
		_ = t.server.Close()
		t.b.AddTunnels(-1)
		t.p.mu.Lock()
		delete(t.p.tunnels, t)
		t.p.mu.Unlock()
		close(t.done)
	})
}

// end records that d stopped; the tunnel finishes when both have.
func (d *dir) end() {
	if d.stopped.Swap(true) {
		return
	}
	if d.t.ended.Add(1) == 2 {
		d.t.finish()
	}
}

// watchIdle finishes the tunnel after idle without traffic either way
// (both connections closed, as HAProxy's `timeout tunnel` does). One timer
// per tunnel, re-armed for what is left when traffic came meanwhile;
// finish stops it.
func (t *tunnel) watchIdle(idle time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finished {
		return
	}
	t.idleTimer = time.AfterFunc(idle, func() {
		t.mu.Lock()
		if t.finished { // ended while this callback was starting
			t.mu.Unlock()
			return
		}
		if rest := time.Until(time.Unix(0, t.lastActive.Load()).Add(idle)); rest > 0 {
			t.idleTimer.Reset(rest)
			t.mu.Unlock()
			return
		}
		t.mu.Unlock()
		t.p.log.LogAttrs(context.Background(), slog.LevelDebug, "tunnel idle timeout",
			slog.String("backend_id", t.b.ID), slog.Duration("idle", idle))
		t.finish()
	})
}

// pump copies src to dst on a goroutine of its own after the reactor handed
// the direction over: buf holds n bytes the reactor read but could not
// write (the destination was full), written first. While the direction is
// active it stays on this goroutine with the buffer and reads through the
// Go netpoller (as a plain copy loop would); after hotWait without traffic
// it gives the buffer back and returns the direction to the reactor. A
// destination that accepts nothing for WriteTimeout ends the tunnel.
func (d *dir) pump(buf *[]byte, n int) {
	t := d.t
	// Deadlines are renewed once per hotWait, not per message: the write
	// deadline stays at least WriteTimeout-hotWait ahead while active.
	now := time.Now()
	t.lastActive.Store(now.UnixNano())
	_ = d.src.SetReadDeadline(now.Add(hotWait))
	_ = d.dst.SetWriteDeadline(now.Add(t.p.cfg.WriteTimeout))
	if n > 0 {
		if _, err := d.dst.Write((*buf)[:n]); err != nil {
			putBuf(buf)
			d.state.Store(dirOwned)
			d.end()
			t.abort()
			return
		}
	}
	if d.closing.Load() {
		// CloseTunnels came before this goroutine set its deadline.
		putBuf(buf)
		d.state.Store(dirOwned)
		d.run()
		return
	}
	active := true // data seen since the read deadline was set (the wake-up counts)
	for {
		n, err := d.src.Read(*buf)
		if n > 0 {
			active = true
			data := (*buf)[:n]
			cut := false
			if t.ws {
				if d.closing.Load() {
					data, cut = d.feedUntilBoundary(data)
				} else {
					d.scan.Feed(data)
				}
			}
			if _, werr := d.dst.Write(data); werr != nil {
				putBuf(buf)
				d.state.Store(dirOwned)
				d.end()
				t.abort()
				return
			}
			if cut {
				putBuf(buf)
				d.state.Store(dirOwned)
				d.sendClose()
				d.end()
				return
			}
		}
		if err == nil {
			continue
		}
		if isTimeout(err) && !d.closing.Load() && active {
			active = false
			now := time.Now()
			t.lastActive.Store(now.UnixNano())
			_ = d.src.SetReadDeadline(now.Add(hotWait))
			_ = d.dst.SetWriteDeadline(now.Add(t.p.cfg.WriteTimeout))
			continue
		}
		if isTimeout(err) {
			break // idle for a whole hotWait (or closing): leave the loop
		}
		putBuf(buf)
		d.state.Store(dirOwned)
		if err == io.EOF {
			d.halfClose()
		} else {
			t.abort()
		}
		d.end()
		return
	}
	putBuf(buf)
	if d.closing.Load() {
		d.state.Store(dirOwned)
		d.run()
		return
	}
	d.state.Store(dirArmed)
	if err := d.rc.arm(d); err != nil {
		if d.state.CompareAndSwap(dirArmed, dirOwned) {
			d.run()
		}
		return
	}
	if h := t.p.testHookRearmed; h != nil {
		h()
	}
	// CloseTunnels may have set closing while we were pumping: take the
	// direction over now unless a new pump already did.
	if d.closing.Load() && d.state.CompareAndSwap(dirArmed, dirOwned) {
		d.run()
	}
}

// errClosing: the read was interrupted by CloseTunnels.
var errClosing = errors.New("proxy: tunnel closing")

// run copies src to dst on a goroutine of its own until EOF, an error, or
// a graceful close; it is used without a reactor and for the graceful close.
func (d *dir) run() {
	defer d.end()
	t := d.t
	for {
		if idle := t.p.cfg.TunnelIdleTimeout; idle > 0 && !d.closing.Load() {
			_ = d.src.SetReadDeadline(time.Unix(0, t.lastActive.Load()).Add(idle))
		}
		if d.closing.Load() {
			if d.finishClose() {
				return
			}
		}
		err := d.waitReadable()
		if err != nil {
			if isTimeout(err) {
				if d.closing.Load() {
					if d.finishClose() {
						return
					}
					continue
				}
				if t.halfClosed.Load() {
					t.abort()
					return
				}
				if idle := t.p.cfg.TunnelIdleTimeout; idle > 0 && time.Now().UnixNano()-t.lastActive.Load() < int64(idle) {
					continue // the other direction was active
				}
			}
			t.abort()
			return
		}
		buf := getBuf()
		n, rerr := d.src.Read(*buf)
		if n > 0 {
			t.lastActive.Store(time.Now().UnixNano())
			data := (*buf)[:n]
			cut := false
			if t.ws {
				if d.closing.Load() {
					data, cut = d.feedUntilBoundary(data)
				} else {
					d.scan.Feed(data)
				}
			}
			if err := d.write(data); err != nil {
				putBuf(buf)
				t.abort()
				return
			}
			if cut {
				putBuf(buf)
				d.sendClose()
				return
			}
		}
		putBuf(buf)
		if rerr != nil {
			if isTimeout(rerr) {
				continue
			}
			if rerr == io.EOF {
				d.halfClose()
				return
			}
			t.abort()
			return
		}
	}
}

// setSrc sets d's source and how it is polled. A TLS source's socket is
// polled for readiness (by the reactor, between pumps) but only read through
// crypto/tls, which may hold records it read from the socket already: a pump
// reads until crypto/tls has to wait for the socket, so nothing is left
// unread when the direction goes back to epoll.
func (d *dir) setSrc(src net.Conn) {
	d.src = src
	if d.raw = rawio.RawConnOf(src); d.raw != nil {
		return
	}
	inner := src
	if rc, ok := inner.(*replayConn); ok {
		inner = rc.Conn // its replayed bytes are read first, like TLS's
	}
	if tc, ok := inner.(*tls.Conn); ok {
		d.raw, d.buffered = rawio.RawConnOf(tc.NetConn()), true
	}
}

// rawWritable is src's socket when the other direction may write to it
// raw, nil when the writes must go through src (TLS).
func (d *dir) rawWritable() syscall.RawConn {
	if d.buffered {
		return nil
	}
	return d.raw
}

// waitReadable parks until src has data (or EOF/error) without holding a buffer.
func (d *dir) waitReadable() error {
	if d.raw == nil || d.buffered {
		// Cannot poll (crypto/tls may hold records already read from
		// the socket): fall through to a blocking Read.
		return nil
	}
	err := d.raw.Read(func(fd uintptr) bool {
		_, e := rawio.Peek(int(fd), d.peek[:])
		return e != syscall.EAGAIN && e != syscall.EWOULDBLOCK
	})
	return err
}

func (d *dir) write(p []byte) error {
	_ = d.dst.SetWriteDeadline(time.Now().Add(d.t.p.cfg.WriteTimeout))
	_, err := d.dst.Write(p)
	return err
}

// halfClose forwards an EOF: the destination's write side is shut and the
// other direction gets a bounded time to finish.
func (d *dir) halfClose() {
	t := d.t
	if cw, ok := d.dst.(interface{ CloseWrite() error }); ok && !t.halfClosed.Swap(true) {
		_ = cw.CloseWrite()
		t.mu.Lock()
		if t.halfTimer == nil {
			t.halfTimer = time.AfterFunc(t.p.cfg.WriteTimeout, t.finish)
		}
		t.mu.Unlock()
		return
	}
	t.abort()
}

// feedUntilBoundary feeds data to the scanner byte by byte until a frame
// boundary and returns the prefix up to it; cut reports a boundary was found.
func (d *dir) feedUntilBoundary(data []byte) ([]byte, bool) {
	if d.scan.AtBoundary() {
		return data[:0], true
	}
	for i := range data {
		d.scan.Feed(data[i : i+1])
		if d.scan.AtBoundary() {
			return data[:i+1], true
		}
	}
	return data, false
}

// finishClose is called when closing is set: at a frame boundary (or for a
// non-WebSocket tunnel) it completes the close and reports true; mid-frame
// it arms the read deadline for the rest of the frame and reports false.
func (d *dir) finishClose() bool {
	if !d.t.ws {
		d.t.abort()
		return true
	}
	if d.scan.AtBoundary() {
		d.sendClose()
		return true
	}
	_ = d.src.SetReadDeadline(time.Unix(0, d.deadline.Load()))
	if time.Now().UnixNano() >= d.deadline.Load() {
		d.t.abort()
		return true
	}
	return false
}

// sendClose writes Close 1001 to dst, shuts dst's write side and drains src
// until the peer closes or the deadline passes.
func (d *dir) sendClose() {
	frame := ws.AppendCloseFrame(make([]byte, 0, 32), ws.CloseGoingAway, "proxy shutting down", d.toServer)
	if err := d.write(frame); err != nil {
		d.t.abort()
		return
	}
	if cw, ok := d.dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = d.src.SetReadDeadline(time.Unix(0, d.deadline.Load()))
	var sink [512]byte
	for {
		if _, err := d.src.Read(sink[:]); err != nil {
			return
		}
	}
}

// CloseTunnels ends every tunnel: WebSocket tunnels get Close 1001 (going
// away) in both directions, each injected at a frame boundary so no frame is
// cut, then the connections are closed; other tunnels are closed at once.
// New upgrades are refused from now on. It returns when every tunnel has
// ended, or ctx is done (then the rest are closed abruptly and ctx.Err()
// is returned).
func (p *Proxy) CloseTunnels(ctx context.Context) error {
	p.mu.Lock()
	p.closed = true
	ts := make([]*tunnel, 0, len(p.tunnels))
	for t := range p.tunnels {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	deadline := time.Now().Add(10 * time.Second)
	if d, ok := ctx.Deadline(); ok {
		deadline = d
	}
	for _, t := range ts {
		if !t.ws {
			t.abort()
			continue
		}
		for _, d := range []*dir{&t.up, &t.down} {
			d.deadline.Store(deadline.UnixNano())
			d.closing.Store(true)
			switch {
			case d.state.CompareAndSwap(dirArmed, dirOwned):
				p.spawn(d.run) // idle in the reactor: a goroutine takes over
			default:
				// A goroutine (run, or an active pump) is reading: wake it.
				_ = d.src.SetReadDeadline(aLongTimeAgo)
			}
		}
	}
	if p.testHookClosing != nil {
		p.testHookClosing()
	}
	for _, t := range ts {
		select {
		case <-t.done:
		case <-ctx.Done():
			for _, t := range ts {
				t.abort()
			}
			return ctx.Err()
		}
	}
	return nil
}

// Tunnels returns the number of open tunnels.
func (p *Proxy) Tunnels() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.tunnels)
}
