// Package connlimit caps the connections a listener has open at once, as
// HAProxy's maxconn does. At the cap Accept waits until a connection
// closes: new clients wait in the kernel's accept backlog instead of being
// accepted into a process that has no file descriptors left for their
// backend connections.
package connlimit

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
)

// Listener wraps a net.Listener with a cap on open connections. A
// connection counts from Accept until its first Close.
type Listener struct {
	net.Listener
	slots  chan struct{}
	done   chan struct{}
	once   sync.Once
	onFull func()

	open    atomic.Int64
	waits   atomic.Uint64
	streams atomic.Int64  // HTTP/2 requests holding a slot (LimitHTTP2)
	refused atomic.Uint64 // HTTP/2 requests refused at the cap
}

// New returns ln capped at n open connections (at least 1). onFull, if not
// nil, is called each time Accept starts waiting for a free slot; it must
// not block.
func New(ln net.Listener, n int, onFull func()) *Listener {
	return &Listener{Listener: ln, slots: make(chan struct{}, max(1, n)), done: make(chan struct{}), onFull: onFull}
}

// Accept waits for a free slot, then accepts. It returns net.ErrClosed once
// the listener is closed, also while waiting.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case l.slots <- struct{}{}:
	default:
		l.waits.Add(1)
		if l.onFull != nil {
			l.onFull()
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			return nil, net.ErrClosed
		}
	}
	c, err := l.Listener.Accept()
	if err != nil {
		<-l.slots
		return nil, err
	}
	l.open.Add(1)
	if tc, ok := c.(*net.TCPConn); ok {
		// Keeps every method of *net.TCPConn (SyscallConn, CloseWrite),
		// which the proxy's raw socket paths look for.
		return &tcpConn{TCPConn: tc, slot: slot{l: l}}, nil
	}
	return &conn{Conn: c, slot: slot{l: l}}, nil
}

// Close closes the listener and ends waiting Accepts; open connections
// are not touched.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// Stats are a Listener's gauges and counters.
type Stats struct {
	Open          int64  `json:"open" metric:"gauge"`           // accepted connections not closed yet
	Max           int    `json:"max" metric:"gauge"`            // the cap
	Waits         uint64 `json:"waits"`                         // times Accept waited for a slot
	HTTP2Requests int64  `json:"http2_requests" metric:"gauge"` // HTTP/2 requests in flight, each holding a slot
	HTTP2Refused  uint64 `json:"http2_refused"`                 // HTTP/2 requests refused with 503 at the cap
}

// Stats returns the listener's figures.
func (l *Listener) Stats() Stats {
	return Stats{Open: l.Open(), Max: l.Max(), Waits: l.Waits(), HTTP2Requests: l.streams.Load(), HTTP2Refused: l.refused.Load()}
}

// LimitHTTP2 wraps h so that every request arriving over HTTP/2 holds a
// slot of the cap while it runs. One HTTP/2 connection carries many
// requests at once, each of which may open a connection to a backend, so
// counting the connection alone would let them overrun the file
// descriptors the cap protects. At the cap a request is refused at once
// with 503 and Retry-After (it has no backlog to wait in, and queueing it
// would hold its stream's memory); requests over HTTP/1.1 pass through.
func (l *Listener) LimitHTTP2(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor != 2 {
			h.ServeHTTP(w, r)
			return
		}
		select {
		case l.slots <- struct{}{}:
		default:
			l.refused.Add(1)
			w.Header().Set("Retry-After", "1")
			http.Error(w, "too many requests in flight, retry shortly", http.StatusServiceUnavailable)
			return
		}
		l.streams.Add(1)
		defer func() {
			l.streams.Add(-1)
			<-l.slots
		}()
		h.ServeHTTP(w, r)
	})
}

// Open returns how many accepted connections are not closed yet.
func (l *Listener) Open() int64 { return l.open.Load() }

// Max returns the cap.
func (l *Listener) Max() int { return cap(l.slots) }

// Waits returns how many times Accept had to wait for a slot.
func (l *Listener) Waits() uint64 { return l.waits.Load() }

func (l *Listener) release() {
	l.open.Add(-1)
	<-l.slots
}

// slot is one connection's place under the cap, given back once.
type slot struct {
	l    *Listener
	once sync.Once
}

func (s *slot) free() { s.once.Do(s.l.release) }

type tcpConn struct {
	*net.TCPConn
	slot
}

func (c *tcpConn) Close() error {
	defer c.free()
	return c.TCPConn.Close()
}

type conn struct {
	net.Conn
	slot
}

func (c *conn) Close() error {
	defer c.free()
	return c.Conn.Close()
}
