package eio

import (
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// wsWriteLoop drains the queue onto wsc and exits when it is empty, so an
// idle session has no writer goroutine. After a graceful close it flushes,
// sends a close packet and a Close frame, and closes the connection.
func (c *Conn) wsWriteLoop(wsc *ws.Conn) {
	growStack()
	defer c.grp.Done()
	defer c.leave()
	bp := getBuf()
	defer putBuf(bp)
	if err := wsc.Flush(); err != nil { // bytes writeNow left pending
		c.closeWith(reasonFor(err), false)
		c.mu.Lock()
		c.writing = false
		c.mu.Unlock()
		_ = wsc.Close()
		return
	}
	var linger *time.Timer
	defer func() {
		if linger != nil {
			linger.Stop()
		}
	}()
	for {
		c.mu.Lock()
		if d := c.cfg.WriteLinger; d > 0 && c.state == stateOpen && len(c.queue) > 0 && len(c.queue) < LingerFlushPackets {
			linger = c.lingerLocked(linger, d) // unlocks and relocks c.mu
		}
		if len(c.queue) == 0 {
			if c.state == stateOpen {
				c.writing = false
				c.mu.Unlock()
				return
			}
			graceful := c.graceful
			c.writing = false
			c.stopTimerLocked() // the hard stop is no longer needed
			c.mu.Unlock()
			if graceful {
				if err := wsc.WriteMessage(ws.OpText, []byte{'0' + byte(codec.EIOClose)}); err == nil {
					_ = wsc.WriteClose(ws.CloseNormal, "")
				}
			}
			_ = wsc.Close()
			return
		}
		batch := c.takeQueueLocked()
		c.mu.Unlock()
		err := writeBatch(wsc, bp, batch)
		if err != nil {
			clear(batch)
			c.closeWith(reasonFor(err), false)
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			_ = wsc.Close()
			return
		}
		c.recycle(batch)
	}
}

// lingerLocked waits up to d, or until Send queues LingerFlushPackets or
// the session closes, so that more messages join the next batch. c.mu is
// held on entry and on return; t is the writer's reusable timer (nil the
// first time), returned for the next wait.
func (c *Conn) lingerLocked(t *time.Timer, d time.Duration) *time.Timer {
	end := make(chan struct{})
	c.lingerEnd = end
	c.mu.Unlock()
	if t == nil {
		t = time.NewTimer(d)
	} else {
		t.Reset(d)
	}
	select {
	case <-t.C:
	case <-end:
		t.Stop()
	}
	c.mu.Lock()
	if c.lingerEnd == end {
		c.lingerEnd = nil
	}
	return t
}

// growStack grows a new writer goroutine's stack while it is shallow. The
// write path (down to the write system call) needs more than a new
// goroutine's 2 KiB stack; growing there means unwinding and copying a
// dozen frames, which cost this goroutine-per-burst writer ~10% of its CPU
// under request/response load. Growing here copies one frame.
//
//go:noinline
func growStack() {
	var pad [1536]byte
	keep(pad[:])
}

//go:noinline
func keep([]byte) {}

// tryWriteBatch writes batch with ws.Conn.TryWriteMessages: false, with
// nothing written, when it would have to wait.
func tryWriteBatch(wsc *ws.Conn, batch []codec.EIOPacket) (bool, error) {
	bp := getBuf()
	defer putBuf(bp)
	mp := wsMsgPool.Get().(*[]ws.Message)
	defer wsMsgPool.Put(mp)
	msgs := encodeBatch(bp, (*mp)[:0], batch)
	ok, err := wsc.TryWriteMessages(msgs)
	clear(msgs)
	*mp = msgs[:0]
	return ok, err
}

// encodeBatch appends batch to msgs as WebSocket messages: text packets
// encoded into *bp, binary messages referenced.
func encodeBatch(bp *[]byte, msgs []ws.Message, batch []codec.EIOPacket) []ws.Message {
	// Encode every text packet first (buf may move while it grows), then
	// slice it.
	buf := (*bp)[:0]
	for i := range batch {
		if p := &batch[i]; !(p.Binary && p.Type == codec.EIOMessage) {
			buf, _ = codec.AppendEIOPacket(buf, *p)
		}
	}
	*bp = buf
	off := 0
	for i := range batch {
		p := &batch[i]
		if p.Binary && p.Type == codec.EIOMessage {
			msgs = append(msgs, ws.Message{Op: ws.OpBinary, Data: p.Data})
			continue
		}
		n := 1 + len(p.Data) // AppendEIOPacket's text form: type digit + data
		msgs = append(msgs, ws.Message{Op: ws.OpText, Data: buf[off : off+n]})
		off += n
	}
	return msgs
}

// wsMsgPool holds the []ws.Message scratch of writeBatch.
var wsMsgPool = sync.Pool{New: func() any { m := make([]ws.Message, 0, 64); return &m }}

// writeBatch writes batch to wsc in order with one WriteMessages call
// (few system calls). Text packets are encoded into *bp, binary messages
// are referenced.
func writeBatch(wsc *ws.Conn, bp *[]byte, batch []codec.EIOPacket) error {
	if len(batch) == 1 {
		if p := &batch[0]; p.Binary && p.Type == codec.EIOMessage {
			return wsc.WriteMessage(ws.OpBinary, p.Data)
		}
		*bp, _ = codec.AppendEIOPacket((*bp)[:0], batch[0])
		return wsc.WriteMessage(ws.OpText, *bp)
	}
	mp := wsMsgPool.Get().(*[]ws.Message)
	msgs := encodeBatch(bp, (*mp)[:0], batch)
	err := wsc.WriteMessages(msgs)
	clear(msgs)
	if cap(msgs) <= 1024 {
		*mp = msgs[:0]
		wsMsgPool.Put(mp)
	}
	return err
}

// wsReadLoop reads wsc until it fails or the session ends, delivering
// packets synchronously: while OnMessage blocks, this peer is not read.
// The caller has taken a ref (enter) for it.
func (c *Conn) wsReadLoop(wsc *ws.Conn) {
	defer c.grp.Done()
	defer c.leave()
	b := c.rb
	if b == nil {
		b = &batch{owner: c}
		c.rb = b // read by senders after c.replying is set (SendVia)
	}
	defer b.flush()
	err := wsc.ReadMessagesIdle(func(op int, p []byte) error {
		pk, err := codec.DecodeEIOPacket(p, op == ws.OpBinary)
		if err != nil {
			c.closeWith(ReasonParseError, false)
			return errStopReading
		}
		c.replying.Store(true)
		ok := c.deliver(pk)
		c.replying.Store(false)
		if !ok {
			return errStopReading
		}
		return nil
	}, b.flush)
	if err != errStopReading {
		c.closeWith(reasonFor(err), false)
	}
}

// errStopReading ends wsReadLoop's ReadMessages (the session ended).
var errStopReading = errors.New("eio: stop reading")

// reasonFor maps a transport error to the close reason engine.io reports.
func reasonFor(err error) string {
	var ce *ws.CloseError
	switch {
	case errors.Is(err, ws.ErrTooBig):
		return ReasonTooLarge
	case errors.As(err, &ce), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), errors.Is(err, ws.ErrClosed),
		errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return ReasonTransportClose
	}
	return ReasonTransportError
}

// probeLoop runs the server side of the polling → WebSocket upgrade on wsc
// (engine.io-protocol, "Upgrade"): "2probe" → "3probe", noop to the pending
// GET, then "5" switches the session to wsc, flushing the held packets in
// order, and the loop goes on as the session's reader, once a POST in
// flight has delivered its packets. Anything else, or no "5" within
// UpgradeTimeout, closes wsc; the session stays on polling.
func (c *Conn) probeLoop(wsc *ws.Conn) {
	ok := false
	defer func() {
		if !ok {
			c.grp.Done()
			c.abandonProbe(wsc)
		}
	}()
	_ = wsc.SetReadDeadline(time.Now().Add(c.cfg.UpgradeTimeout))
	for {
		op, p, err := wsc.ReadMessage()
		if err != nil || op != ws.OpText {
			return
		}
		pk, err := codec.DecodeEIOPacket(p, false)
		if err != nil {
			return
		}
		switch {
		case pk.Type == codec.EIOPing && string(pk.Data) == "probe":
			if err := wsc.WriteMessage(ws.OpText, []byte("3probe")); err != nil {
				return
			}
			c.mu.Lock()
			if c.probe != wsc {
				c.mu.Unlock()
				return
			}
			c.upgrade = upProbed
			c.wakePollLocked() // the pending GET answers with a noop
			c.mu.Unlock()
		case pk.Type == codec.EIOUpgrade:
			c.mu.Lock()
			if c.probe != wsc || c.upgrade != upProbed || c.state != stateOpen {
				c.mu.Unlock()
				return
			}
			c.probe = nil
			c.upgrade = upNone
			c.transport = transWebSocket
			c.ws = wsc
			c.wakePollLocked()
			c.refs++ // this goroutine becomes the session's reader
			if len(c.queue) > 0 {
				c.kickLocked()
			}
			// A POST still reading or delivering its packets must finish
			// first: calls for one session are sequential (Handler), and
			// its packets came before this socket's. serveData, or the
			// session's close, releases the wait.
			var wait chan struct{}
			if c.postBusy {
				wait = make(chan struct{})
				c.postWait = wait
			}
			c.mu.Unlock()
			_ = wsc.SetReadDeadline(time.Time{})
			ok = true
			if wait != nil {
				<-wait
			}
			c.wsReadLoop(wsc)
			return
		default:
			return
		}
	}
}

// abandonProbe closes a failed upgrade's WebSocket; the session continues
// on polling and a GET held with a noop may resume receiving.
func (c *Conn) abandonProbe(wsc *ws.Conn) {
	c.mu.Lock()
	if c.probe == wsc {
		c.probe = nil
		c.upgrade = upNone
	}
	c.mu.Unlock()
	_ = wsc.Close()
}
