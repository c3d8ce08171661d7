package eio

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// Session states (Conn.state).
const (
	stateOpen   uint8 = iota
	stateClosed       // ended; OnClose pending or done
)

// Transports (Conn.transport).
const (
	transPolling uint8 = iota
	transWebSocket
)

// Upgrade phases (Conn.upgrade), polling sessions only.
const (
	upNone     uint8 = iota
	upAccepted       // a probe WebSocket is open; a second one is refused
	upProbed         // "2probe" answered: pending and new GETs get a noop, output is held
)

// Conn is one Engine.IO session, server or client side. Safe for concurrent use.
//
// The struct is kept small (it exists once per idle connection): per-session
// state that only some sessions need lives behind pointers, and buffers are
// borrowed from pools for the duration of a write.
type Conn struct {
	id         string
	cfg        *Config         // shared, read-only (the Server's, or the client's)
	srv        *Server         // nil on the client side
	cl         *clientState    // nil on the server side
	grp        *sync.WaitGroup // owner of this session's goroutines
	h          Handler
	remoteAddr string
	header     http.Header
	rawQuery   string
	done       chan struct{}
	timer      *time.Timer // heartbeat; after close, the close grace / hard stop
	closed     atomic.Bool
	replying   atomic.Bool // the WebSocket reader is delivering a message (see writeNow)
	rb         *batch      // the WebSocket reader's burst (see SendVia); set before replying

	mu        sync.Mutex // guards the fields below
	state     uint8
	transport uint8
	upgrade   uint8
	graceful  bool // closed by Close (flush queued packets first)
	notified  bool // OnClose has been (or is being) called
	writing   bool // a writer goroutine (or POST, client side) owns the transport's output
	awaitPong bool // server: a ping is out, timer measures PingTimeout
	batched   bool // registered in a reader's batch, not flushed yet
	getWait   bool // server polling: a GET is pending
	postBusy  bool // server polling: a POST is being read or dispatched
	refs      int32
	reason    string
	timerAt   time.Time                // when the armed timer is due; earlier firings are stale
	ws        *ws.Conn                 // current WebSocket transport
	probe     *ws.Conn                 // server: WebSocket being upgraded to
	postRC    *http.ResponseController // server polling: the POST being read, aborted on close
	postWait  chan struct{}            // server: closed when the POST in flight at an upgrade is done, or on close
	queue     []codec.EIOPacket
	spare     []codec.EIOPacket
	spaceWake chan struct{} // closed when queue space frees (Send waiters)
	lingerEnd chan struct{} // closed to end the writer's WriteLinger wait early
	pollWake  chan struct{} // closed to wake the pending GET
}

// ID returns the session id (sid).
func (c *Conn) ID() string { return c.id }

// Transport returns "polling" or "websocket" (the current one).
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.transport == transWebSocket {
		return TransportWebSocket
	}
	return TransportPolling
}

// RemoteAddr returns the peer's address ("ip:port") as seen on the socket.
// On the client side it is the server's host:port.
func (c *Conn) RemoteAddr() string { return c.remoteAddr }

// Header returns the handshake request's headers (server side; read-only).
// It is nil on the client side.
func (c *Conn) Header() http.Header { return c.header }

// Query returns the handshake request's query (server side). Each call
// parses it afresh, so the caller may modify the result.
func (c *Conn) Query() url.Values {
	q, _ := url.ParseQuery(c.rawQuery)
	return q
}

// Done is closed when the session has ended: after OnClose returned and the
// session's goroutines are done with the connection.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Reason returns the close reason, or "" while the session is open.
func (c *Conn) Reason() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reason
}

// Send queues messages in order. Data is not modified or retained past the
// write, and may be shared between sessions. It blocks while the queue is
// full, up to StallTimeout, then closes the session (ReasonSlowConsumer) and
// returns ErrSlowConsumer. After close it returns ErrClosed.
//
// The messages of one call stay contiguous on the wire (a Socket.IO binary
// packet and its attachments are one call). At most SendQueue messages wait
// in the queue, besides the batch being written; a call with more messages
// than SendQueue waits for an empty queue.
func (c *Conn) Send(msgs ...Message) error { return c.send(nil, msgs, true) }

// TrySend is Send that never waits: when the queue has no room for msgs it
// closes the session at once (ReasonSlowConsumer) and returns
// ErrSlowConsumer. A fan-out to many sessions uses it, so that a stalled
// peer delays none of the others.
func (c *Conn) TrySend(msgs ...Message) error { return c.send(nil, msgs, false) }

// SendVia is Send for a goroutine that runs from's handler (OnMessage on
// from's WebSocket reader): instead of starting a write of its own, c is
// written once from's reader has delivered every message it has buffered,
// so a burst read in one system call costs one write per destination, and
// no writer goroutine is woken for it. Called otherwise (from nil, not
// delivering, polling) it is Send. Blocking on a full queue first starts
// the writes deferred so far.
func (c *Conn) SendVia(from *Conn, msgs ...Message) error {
	var b *batch
	if from != nil && from.replying.Load() {
		b = from.rb
	}
	return c.send(b, msgs, true)
}

// send queues msgs; on a full queue it waits up to StallTimeout when wait
// is set, else it closes the session at once.
func (c *Conn) send(b *batch, msgs []Message, wait bool) error {
	if len(msgs) == 0 {
		return nil
	}
	c.mu.Lock()
	var stall *time.Timer
	for c.state == stateOpen && len(c.queue) > 0 && len(c.queue)+len(msgs) > c.cfg.SendQueue {
		if !wait {
			c.mu.Unlock()
			c.closeWith(ReasonSlowConsumer, false)
			return ErrSlowConsumer
		}
		if !c.writing {
			c.kickLocked() // deferred in a batch: do not wait for its flush
		}
		if c.spaceWake == nil {
			c.spaceWake = make(chan struct{})
		}
		wake := c.spaceWake
		c.mu.Unlock()
		if b != nil {
			b.flush() // this goroutine's deferred writes must not wait while it blocks
		}
		if stall == nil {
			stall = time.NewTimer(c.cfg.StallTimeout)
			defer stall.Stop()
		}
		select {
		case <-wake:
		case <-stall.C:
			c.closeWith(ReasonSlowConsumer, false)
			return ErrSlowConsumer
		}
		c.mu.Lock()
	}
	if c.state != stateOpen {
		c.mu.Unlock()
		return ErrClosed
	}
	for _, m := range msgs {
		c.queue = append(c.queue, codec.EIOPacket{Type: codec.EIOMessage, Data: m.Data, Binary: m.Binary})
	}
	ws := c.transport == transWebSocket && c.ws != nil && c.cfg.WriteLinger <= 0
	replying := ws && c.replying.Load()
	if b == nil && replying && c.rb != nil && (c.ws.Buffered() || c.ws.Napping()) {
		// A reply while more messages wait in the read buffer: write it
		// with the replies to those. A coalescing reader's replies wait
		// for the other readers of its tick (ws.Conn.Napping), whose
		// messages to this peer join them.
		b = c.rb
	}
	switch {
	case c.writing || !ws:
	case b != nil:
		if !c.batched {
			c.batched = true
			b.add(c)
		}
		c.mu.Unlock()
		if !b.owner.replying.Load() {
			// Called from another goroutine, and the reader may have
			// gone idle (flushed) since we looked: flush here. The reader
			// clears replying before its idle flush and add sets b.some
			// before this load, so one of the two sees the other.
			b.flush()
		}
		return nil
	case replying:
		c.writeNow() // unlocks c.mu
		return nil
	}
	c.kickLocked()
	if len(c.queue) >= LingerFlushPackets {
		c.endLingerLocked()
	}
	c.mu.Unlock()
	return nil
}

// batch is the sessions a WebSocket reader's deliveries queued packets
// for without starting their writes (SendVia, replies to a burst). The
// reader flushes it when it has delivered everything it had buffered.
// Lock order: Conn.mu, then batch.mu.
type batch struct {
	owner *Conn       // the reader's session
	some  atomic.Bool // conns is not empty: spares an idle reader the lock
	mu    sync.Mutex
	conns []*Conn
	spare []*Conn
}

func (b *batch) add(c *Conn) {
	b.mu.Lock()
	b.conns = append(b.conns, c)
	b.some.Store(true)
	b.mu.Unlock()
}

// flush starts the deferred writes: on the calling goroutine when the
// socket takes them at once, else by a writer goroutine.
func (b *batch) flush() {
	if !b.some.Load() {
		return
	}
	b.mu.Lock()
	cs := b.conns
	if len(cs) == 0 {
		b.mu.Unlock()
		return
	}
	b.conns, b.spare = b.spare[:0], nil
	b.some.Store(false)
	b.mu.Unlock()
	for _, c := range cs {
		c.mu.Lock()
		c.batched = false
		switch {
		case c.writing || len(c.queue) == 0:
			c.mu.Unlock()
		case c.state == stateOpen && c.transport == transWebSocket && c.ws != nil && !c.ws.Pending():
			c.writeNow() // unlocks c.mu
		default:
			c.kickLocked()
			c.mu.Unlock()
		}
	}
	clear(cs)
	b.mu.Lock()
	if b.spare == nil && cap(cs) <= 256 {
		b.spare = cs[:0]
	}
	b.mu.Unlock()
}

// writeNow tries to write the queue on the calling goroutine without
// waiting (ws.Conn.TryWriteMessages), which spares starting a writer
// goroutine when the socket takes the bytes at once, as it usually does.
// Send uses it for replies only: while the reader delivers the last
// message it has (an ack, an answer). A goroutine streaming messages keeps
// the writer goroutine, which gathers them into few writes.
// Whatever remains (the socket's buffer was full, more was queued
// meanwhile, the session closed) goes to a writer goroutine as usual.
// c.mu must be held; writeNow unlocks it.
func (c *Conn) writeNow() {
	wsc := c.ws
	// Take the writer's role and ref, as kickLocked does for a goroutine.
	c.writing = true
	c.refs++
	c.grp.Add(1)
	batch := c.takeQueueLocked()
	c.mu.Unlock()
	ok, err := tryWriteBatch(wsc, batch)
	if err != nil {
		clear(batch)
		c.closeWith(reasonFor(err), false)
	}
	c.mu.Lock()
	switch {
	case err != nil:
	case !ok:
		// Nothing was written: put the batch back in front.
		c.queue = append(batch, c.queue...)
	default:
		c.recycleLocked(batch)
		if len(c.queue) == 0 && c.state == stateOpen && !wsc.Pending() {
			// Done. The session is open, so dropping the ref here cannot
			// be the last owner's exit after a close (no OnClose here).
			c.writing = false
			c.refs--
			c.mu.Unlock()
			c.grp.Done()
			return
		}
	}
	// Hand the role and the ref over to a writer goroutine: it writes a
	// pending tail and the rest of the queue, or finishes a close.
	go c.wsWriteLoop(wsc)
	c.mu.Unlock()
}

// kickLocked makes the current transport pick up the queue: it starts a
// WebSocket writer if none runs, or wakes the pending poll.
func (c *Conn) kickLocked() {
	switch {
	case c.transport == transWebSocket:
		if !c.writing && c.ws != nil {
			c.writing = true
			c.refs++
			c.grp.Add(1)
			go c.wsWriteLoop(c.ws)
		}
	case c.cl != nil:
		c.cl.kickLocked(c)
	default:
		c.wakePollLocked()
	}
}

func (c *Conn) wakePollLocked() {
	if c.pollWake != nil {
		close(c.pollWake)
		c.pollWake = nil
	}
}

// endLingerLocked ends the writer's WriteLinger wait, if it is waiting.
func (c *Conn) endLingerLocked() {
	if c.lingerEnd != nil {
		close(c.lingerEnd)
		c.lingerEnd = nil
	}
}

// releasePostWaitLocked lets an upgraded session's WebSocket reader,
// waiting for the POST that was in flight at the upgrade, start.
func (c *Conn) releasePostWaitLocked() {
	if c.postWait != nil {
		close(c.postWait)
		c.postWait = nil
	}
}

func (c *Conn) wakeSpaceLocked() {
	if c.spaceWake != nil {
		close(c.spaceWake)
		c.spaceWake = nil
	}
}

// takeQueueLocked removes and returns the queued packets; recycle gives the
// slice back once written.
func (c *Conn) takeQueueLocked() []codec.EIOPacket {
	q := c.queue
	c.queue = c.spare
	c.spare = nil
	c.wakeSpaceLocked()
	return q
}

// recycle returns a written batch's backing array for reuse, dropping its
// references to message data.
func (c *Conn) recycle(q []codec.EIOPacket) {
	if cap(q) > 64 {
		return
	}
	clear(q)
	c.mu.Lock()
	if c.spare == nil {
		c.spare = q[:0]
	}
	c.mu.Unlock()
}

// recycleLocked is recycle with c.mu held.
func (c *Conn) recycleLocked(q []codec.EIOPacket) {
	if cap(q) > 64 {
		return
	}
	clear(q)
	if c.spare == nil {
		c.spare = q[:0]
	}
}

// Close sends a close packet (best effort), ends the session and reports
// reason to OnClose. Idempotent. Messages queued before Close are flushed
// first, bounded by WriteTimeout.
func (c *Conn) Close(reason string) { c.closeWith(reason, true) }

// closeWith ends the session. graceful flushes queued packets and a close
// packet; otherwise the transport is dropped at once.
func (c *Conn) closeWith(reason string, graceful bool) {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosed
	c.closed.Store(true)
	c.reason = reason
	c.graceful = graceful
	c.wakeSpaceLocked()
	c.endLingerLocked()
	c.releasePostWaitLocked() // the reader then finds the session closed
	probe := c.probe
	c.probe = nil
	var drop *ws.Conn
	removeNow := true
	switch {
	case c.transport == transWebSocket && c.ws != nil:
		if graceful {
			// The writer flushes, sends "1" and a Close frame, then closes
			// the connection; the timer is the hard stop.
			c.armLocked(c.cfg.WriteTimeout)
			if !c.writing {
				c.writing = true
				c.refs++
				c.grp.Add(1)
				go c.wsWriteLoop(c.ws)
			}
		} else {
			drop = c.ws
			c.queue = nil
			c.stopTimerLocked()
		}
	case c.cl != nil:
		c.cl.closeLocked(c)
		c.stopTimerLocked()
	default:
		// Server polling: a pending GET answers with the queue (if
		// graceful) and a close packet. Without one, keep the session
		// findable for a short grace so the client's next GET learns.
		if !graceful {
			c.queue = nil
		}
		if c.postRC != nil {
			// Abort a body still being read (engine.io destroys the request).
			_ = c.postRC.SetReadDeadline(time.Unix(1, 0))
		}
		if c.pollWake != nil {
			c.wakePollLocked()
			c.stopTimerLocked()
		} else {
			removeNow = false
			c.armLocked(c.cfg.WriteTimeout)
		}
	}
	notify := c.refs == 0 && !c.notified
	if notify {
		c.notified = true
	}
	c.mu.Unlock()

	if c.srv != nil {
		c.srv.closed(c, removeNow)
	}
	if probe != nil {
		_ = probe.Close()
	}
	if drop != nil {
		_ = drop.Close()
	}
	if notify {
		c.finish()
	}
}

// leave ends an owner's turn; the last one out after close reports OnClose.
func (c *Conn) leave() {
	c.mu.Lock()
	c.refs--
	notify := c.state != stateOpen && c.refs == 0 && !c.notified
	if notify {
		c.notified = true
	}
	c.mu.Unlock()
	if notify {
		c.finish()
	}
}

func (c *Conn) finish() {
	c.mu.Lock()
	reason := c.reason
	c.mu.Unlock()
	if c.cl != nil {
		c.cl.cancel()
		if c.cl.ownHTTP != nil {
			c.cl.ownHTTP.CloseIdleConnections()
		}
	}
	if c.h != nil {
		c.h.OnClose(c, reason)
	}
	close(c.done)
}

// deliver hands one inbound packet to the session. It reports false when
// the session ended (stop reading).
func (c *Conn) deliver(p codec.EIOPacket) bool {
	switch p.Type {
	case codec.EIOMessage:
		if c.closed.Load() {
			return false
		}
		c.h.OnMessage(c, Message{Data: p.Data, Binary: p.Binary})
	case codec.EIOPong:
		if c.srv != nil {
			c.onPong()
		}
	case codec.EIOPing:
		if c.srv != nil {
			// v4 heartbeats go server → client only.
			c.closeWith(ReasonTransportError, false)
			return false
		}
		c.onPing(p.Data)
	case codec.EIOClose:
		c.closeWith(ReasonTransportClose, false)
		return false
	}
	return true
}

// armLocked (re)arms the session timer to fire after d.
func (c *Conn) armLocked(d time.Duration) {
	c.timerAt = time.Now().Add(d)
	if c.timer == nil {
		c.timer = time.AfterFunc(d, c.onTimer)
		return
	}
	c.timer.Reset(d)
}

func (c *Conn) stopTimerLocked() {
	if c.timer != nil {
		c.timer.Stop()
	}
}

// onTimer runs on the session timer: the next ping, a missed pong (server),
// a missed ping (client), or after close the grace / hard stop.
func (c *Conn) onTimer() {
	c.mu.Lock()
	if time.Now().Before(c.timerAt) {
		c.mu.Unlock() // stale: re-armed after this firing was scheduled
		return
	}
	if c.state != stateOpen {
		wsc := c.ws
		polling := c.transport == transPolling && c.srv != nil
		c.mu.Unlock()
		if polling {
			c.srv.remove(c)
		} else if wsc != nil {
			_ = wsc.Close()
		}
		return
	}
	if c.srv == nil || c.awaitPong {
		c.mu.Unlock()
		c.closeWith(ReasonPingTimeout, false)
		return
	}
	c.awaitPong = true
	c.armLocked(c.cfg.PingTimeout)
	c.queue = append(c.queue, codec.EIOPacket{Type: codec.EIOPing})
	c.kickLocked()
	c.mu.Unlock()
}

// onPong (server) ends the wait for a pong and schedules the next ping.
func (c *Conn) onPong() {
	c.mu.Lock()
	if c.state == stateOpen && c.awaitPong {
		c.awaitPong = false
		c.armLocked(c.cfg.PingInterval)
	}
	c.mu.Unlock()
}

// onPing (client) answers and re-arms the watchdog.
func (c *Conn) onPing(data []byte) {
	c.mu.Lock()
	if c.state == stateOpen {
		c.armLocked(c.cl.pingInterval + c.cl.pingTimeout)
		c.queue = append(c.queue, codec.EIOPacket{Type: codec.EIOPong, Data: data})
		c.kickLocked()
	}
	c.mu.Unlock()
}

// bufPool holds encode buffers borrowed for one write.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
