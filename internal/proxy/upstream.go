package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// upstream is the keep-alive pool of one backend: a LIFO stack of idle
// connections.
type upstream struct {
	b       *backend.Backend
	maxIdle int

	mu     sync.Mutex // guards idle, closed
	idle   []*upConn
	closed bool
}

// upConn is one connection to a backend with its buffers.
type upConn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	lastUsed time.Time
	reused   bool  // served at least one request before this one
	rdl      int64 // read deadline set on nc by the fast path (unix nanoseconds), 0 = none

	raw syscall.RawConn // nil for TLS
	rw  io.ReadWriter   // what br and bw read and write
	pre *prefixReader   // replays response bytes the HTTP reactor read

	// Registration in the HTTP reactor (reactor goroutine only until the
	// connection is pooled again): hr and rid, once registered; owner, the
	// client connection whose request it carries there.
	hr    *hreactor
	rid   uint64
	owner *fastConn
}

const (
	upReadBufSize  = 8 << 10
	upWriteBufSize = 4 << 10
	// staleCheckAfter: connections idle longer than this are probed for a
	// close from the backend before reuse (Node closes idle keep-alive
	// connections after 5s).
	staleCheckAfter = 500 * time.Millisecond
)

var (
	readerPool sync.Pool // *bufio.Reader of upReadBufSize
	writerPool sync.Pool // *bufio.Writer of upWriteBufSize
)

func newUpConn(nc net.Conn) *upConn {
	c := &upConn{nc: nc}
	// On a plain socket the buffers read and write with raw system calls
	// (package rawio).
	var rw io.ReadWriter = nc
	if rc := rawio.RawConnOf(nc); rc != nil {
		c.raw = rc
		rw = rawio.NewConn(rc)
	}
	c.rw = rw
	if r, ok := readerPool.Get().(*bufio.Reader); ok {
		r.Reset(rw)
		c.br = r
	} else {
		c.br = bufio.NewReaderSize(rw, upReadBufSize)
	}
	if w, ok := writerPool.Get().(*bufio.Writer); ok {
		w.Reset(rw)
		c.bw = w
	} else {
		c.bw = bufio.NewWriterSize(rw, upWriteBufSize)
	}
	return c
}

// releaseBuffers returns the buffers to their pools (after close or hijack).
func (c *upConn) releaseBuffers() {
	if c.br != nil {
		c.br.Reset(nil)
		readerPool.Put(c.br)
		c.br = nil
	}
	if c.bw != nil {
		c.bw.Reset(nil)
		writerPool.Put(c.bw)
		c.bw = nil
	}
}

// detach takes c out of the HTTP reactor's epoll set before a goroutine
// uses it (for a request, or as a tunnel).
func (c *upConn) detach() {
	if c.hr != nil {
		c.hr.detach(c)
	}
}

func (c *upConn) close() {
	if c.hr != nil {
		c.hr.forget(c.rid)
		c.hr = nil
	}
	_ = c.nc.Close()
	c.releaseBuffers()
}

// get returns an idle connection or nil.
func (u *upstream) get(now time.Time, idleTimeout time.Duration) *upConn {
	for {
		u.mu.Lock()
		n := len(u.idle)
		if n == 0 {
			u.mu.Unlock()
			return nil
		}
		c := u.idle[n-1]
		u.idle[n-1] = nil
		u.idle = u.idle[:n-1]
		u.mu.Unlock()
		age := now.Sub(c.lastUsed)
		if age > idleTimeout || (age > staleCheckAfter && !connAlive(c.nc)) {
			c.close()
			continue
		}
		c.reused = true
		return c
	}
}

// put returns c to the pool, or closes it when the pool is full or closed.
func (u *upstream) put(c *upConn, now time.Time) {
	c.lastUsed = now
	u.mu.Lock()
	if u.closed || len(u.idle) >= u.maxIdle {
		u.mu.Unlock()
		c.close()
		return
	}
	u.idle = append(u.idle, c)
	u.mu.Unlock()
}

// closeAll closes the idle connections and refuses later puts.
func (u *upstream) closeAll() {
	u.mu.Lock()
	idle := u.idle
	u.idle = nil
	u.closed = true
	u.mu.Unlock()
	for _, c := range idle {
		c.close()
	}
}

// dial opens a new connection to the backend.
func (p *Proxy) dial(ctx context.Context, b *backend.Backend) (*upConn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	nc, err := p.dialer.DialContext(ctx, "tcp", b.Addr)
	if err != nil {
		return nil, err
	}
	if b.URL != nil && b.URL.Scheme == "https" {
		cfg := p.cfg.TLS.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = b.URL.Hostname()
		}
		cfg.NextProtos = []string{"http/1.1"}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			_ = nc.Close()
			return nil, err
		}
		nc = tc
	}
	return newUpConn(nc), nil
}

// connAlive reports whether an idle connection is still open: no EOF and
// no unexpected bytes waiting. Connections that cannot be probed count as alive.
func connAlive(nc net.Conn) bool {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := true
	var b [1]byte
	// Control, not Read: a stale read deadline must not matter here.
	err = rc.Control(func(fd uintptr) {
		n, err := rawio.Peek(int(fd), b[:])
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		case err != nil, n == 0, n > 0:
			// error, EOF, or bytes nobody asked for: not reusable
			alive = false
		}
	})
	return err == nil && alive
}
