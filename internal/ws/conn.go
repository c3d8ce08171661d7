package ws

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// Conn is one WebSocket connection. ReadMessage must be called from one
// goroutine at a time; WriteMessage, WriteClose and Close are safe for
// concurrent use. An idle Conn holds no read buffer: on a socket (a
// syscall.Conn) a goroutine blocked in ReadMessage waits for readability
// without one; once bytes arrive, everything the socket has is read into a
// pooled buffer, frames are parsed from it, and the buffer goes back to the
// pool as soon as it is drained. Payloads at least as large as that buffer
// are read directly into the message slice handed to the caller. Other
// net.Conns are read with exact-size reads.
//
// Any read error is final: after ReadMessage returns an error, every later
// call returns the same error (a deadline set with SetReadDeadline that
// expires mid-frame would otherwise desynchronise the stream).
type Conn struct {
	nc      net.Conn
	pending []byte // bytes read past the handshake, consumed before nc
	readErr error  // sticky; owned by the reading goroutine

	// Buffered reads, owned by the reading goroutine. rc is nil when nc is
	// not a socket. rbuf is a pooled buffer holding rbuf[rpos:rend] not yet
	// consumed; nil when drained. rfn is the rc.Read callback (allocated
	// once); it reports through rbuf/rend and rerr.
	rc         syscall.RawConn
	rw         *rawio.Conn // rc's Read and Write (nil when rc is); writes go through it
	rfn        func(fd uintptr) bool
	rbuf       *[]byte
	rpos, rend int
	rerr       error
	more       atomic.Bool // rbuf != nil after the last ReadMessage (for Buffered)

	// ReadMessages: inRead is set while the reader runs inside rc.Read,
	// where nc.Close would wait for it (Close shuts the socket down instead
	// and the reader closes it on its way out). inCb is the reader's own
	// copy; failLater defers fail's linger and Close to outside; drained
	// says the last read found the socket empty; loopFn and loopErr are
	// the callback's handler and result.
	inRead    atomic.Bool
	inCb      bool
	failLater bool
	drained   bool
	loopCb    func(fd uintptr) bool
	loopFn    func(op int, p []byte) error
	loopIdle  func() // ReadMessagesIdle's hook
	loopErr   error

	// ReadMessages' coalescing (Config.ReadCoalesce), owned by the reader:
	// nap is the period (0: off); napping says the socket's low-water
	// mark is raised and the reader polls on the clock; napEmpty counts
	// polls in a row that found nothing.
	nap      time.Duration
	napping  atomic.Bool // set by the reader only; read by others too (Napping)
	napClk   *napClock   // the clock of nap, once the reader first polled on it
	napGen   uint64      // the clock's group the reader is in (0: none)
	napEmpty int
	napSince time.Duration // start of the period napReads counts in (time since epoch)
	napReads int           // reads that emptied the socket since napSince
	naps     int           // times coalescing started (for tests)
	napQuits int           // times it stopped for a waiting peer (for tests)
	napMsgs  int           // messages dispatched since the last napNext
	napThin  int           // polls in a row that brought at most one message
	napRich  bool          // a poll of this spell brought more than one message
	napCool  int           // periods of the next cooldown (0: napCooldown)
	napBlock time.Duration // coalescing may not start again before this
	// peeked counts bytes a coalescing poll peeked at (MSG_PEEK) and the
	// reader holds, still queued in the socket: the next read, or the end
	// of coalescing, drops them first (rawio.Discard). A read that empties
	// a socket with several small segments queued makes the kernel send a
	// bare ACK at once, which on loopback costs about what a data write
	// does, and a coalescing poll always finds several; a peek leaves them
	// queued, so the ACK rides on the replies written at the tick's end
	// instead (acked echo: 8–12% less CPU per ack).
	peeked int

	maxMsg       int64
	writeTimeout time.Duration

	wmu       sync.Mutex
	closeSent bool          // guarded by wmu
	wtail     []byte        // unwritten rest of a TryWriteMessages batch; guarded by wmu
	wdl       time.Duration // write deadline as time since epoch; guarded by wmu

	closed atomic.Bool
	client bool    // this side dials: masks its frames, expects unmasked ones
	hdr    [8]byte // header scratch for the reading goroutine
}

func newConn(nc net.Conn, client bool, cfg Config, pending []byte) *Conn {
	cfg = cfg.withDefaults()
	c := &Conn{
		nc:           nc,
		pending:      pending,
		maxMsg:       cfg.MaxMessageBytes,
		writeTimeout: cfg.WriteTimeout,
		client:       client,
		nap:          cfg.ReadCoalesce,
	}
	// Sockets are read and written with raw system calls (package rawio)
	// where the platform has them; elsewhere through nc.
	if rc := rawio.RawConnOf(nc); rc != nil {
		c.rc = rc
		c.rw = rawio.NewConn(rc)
		c.rfn = c.readFD
	}
	return c
}

// readBufSize is the pooled read buffer's size: one read system call takes
// up to this many bytes (many small frames at once).
const readBufSize = 16 << 10

var readPool = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readFD is the rc.Read callback: it reads what the socket has into a
// pooled buffer, which it keeps only when bytes arrived, so a reader that
// waits for readability holds no buffer. It returns false to wait.
func (c *Conn) readFD(fd uintptr) bool {
	if err := c.dropPeeked(fd); err != nil {
		c.rerr = err
		return true
	}
	bp := readPool.Get().(*[]byte)
	var n int
	var err error
	if c.napping.Load() {
		// Coalescing: peek, and consume the bytes at the next read, after
		// the replies they cause have been written (see peeked).
		n, err = rawio.Peek(int(fd), *bp)
		if err == nil {
			c.peeked = n
		}
	} else {
		n, err = rawio.Read(int(fd), *bp)
	}
	switch {
	case err == syscall.EAGAIN:
		readPool.Put(bp)
		return false
	case err != nil:
		c.rerr = os.NewSyscallError("read", err)
	case n <= 0:
		c.rerr = io.EOF
	default:
		c.rbuf, c.rpos, c.rend = bp, 0, n
		return true
	}
	readPool.Put(bp)
	return true
}

// dropPeeked consumes the bytes the last read peeked at, which the reader
// holds already (see peeked).
func (c *Conn) dropPeeked(fd uintptr) error {
	if c.peeked == 0 {
		return nil
	}
	n, err := rawio.Discard(int(fd), c.peeked)
	if n == c.peeked {
		c.peeked = 0
		return nil
	}
	if err == nil {
		err = io.ErrUnexpectedEOF // the kernel lost bytes it had shown us
	}
	return os.NewSyscallError("recvfrom", err)
}

// releaseRead gives the read buffer back to the pool.
func (c *Conn) releaseRead() {
	if c.rbuf != nil {
		readPool.Put(c.rbuf)
		c.rbuf, c.rpos, c.rend = nil, 0, 0
	}
}

// RemoteAddr returns the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr returns the local address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// SetReadDeadline sets the deadline for ReadMessage. A read that times out
// is final (see Conn).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// NetConn returns the underlying connection (for read deadlines or
// addresses); reading from or writing to it corrupts the WebSocket stream,
// and write deadlines set on it are overridden by WriteTimeout's.
func (c *Conn) NetConn() net.Conn { return c.nc }

// read drains bytes left over from the handshake, then the read buffer,
// then reads the network connection: large reads directly into p, small
// ones by filling the read buffer with whatever the socket has.
func (c *Conn) read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		if len(c.pending) == 0 {
			c.pending = nil
		}
		return n, nil
	}
	if c.rbuf == nil {
		if c.inCb {
			// Inside rc.Read only whole buffered messages are read
			// (bufferedMessage); reading nc here would deadlock.
			return 0, errors.New("ws: internal error: read past the buffer inside ReadMessages")
		}
		if c.rc == nil || len(p) >= readBufSize {
			return c.nc.Read(p)
		}
		c.rerr = nil
		if err := c.rc.Read(c.rfn); err != nil {
			return 0, err
		}
		if c.rerr != nil {
			return 0, c.rerr
		}
	}
	n := copy(p, (*c.rbuf)[c.rpos:c.rend])
	c.rpos += n
	if c.rpos == c.rend {
		c.releaseRead()
	}
	return n, nil
}

// readFull fills p completely or returns an error (io.ErrUnexpectedEOF when
// the stream ends mid-way, io.EOF when it ends before the first byte).
func (c *Conn) readFull(p []byte) error {
	n := 0
	for n < len(p) {
		m, err := c.read(p[n:])
		n += m
		if err != nil {
			if n == len(p) {
				return nil
			}
			if err == io.EOF && n > 0 {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// header is one parsed frame header.
type header struct {
	n      int64
	key    uint32
	op     byte
	fin    bool
	masked bool
}

// readHeader reads and validates one frame header (everything that does not
// depend on the fragmentation state).
func (c *Conn) readHeader() (h header, err error) {
	b := c.hdr[:2]
	if err = c.readFull(b); err != nil {
		return h, err
	}
	b0, b1 := b[0], b[1]
	h.fin = b0&finBit != 0
	h.op = b0 & opMask
	h.masked = b1&maskBit != 0
	h.n = int64(b1 & lenMask)
	if b0&rsvBits != 0 {
		// No extension was negotiated, so RSV1-3 must be zero (§5.2).
		return h, fmt.Errorf("%w: reserved bits set", ErrProtocol)
	}
	switch h.op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
	default:
		return h, fmt.Errorf("%w: reserved opcode %#x", ErrProtocol, h.op)
	}
	if h.masked == c.client {
		// §5.1: clients mask every frame, servers never do.
		if c.client {
			return h, fmt.Errorf("%w: masked frame from server", ErrProtocol)
		}
		return h, fmt.Errorf("%w: unmasked frame from client", ErrProtocol)
	}
	if isControl(h.op) && (!h.fin || h.n > maxCtrlLen) {
		return h, fmt.Errorf("%w: fragmented or oversized control frame", ErrProtocol)
	}
	switch h.n {
	case 126:
		if err = c.readFull(c.hdr[:2]); err != nil {
			return h, err
		}
		h.n = int64(binary.BigEndian.Uint16(c.hdr[:2]))
	case 127:
		if err = c.readFull(c.hdr[:8]); err != nil {
			return h, err
		}
		u := binary.BigEndian.Uint64(c.hdr[:8])
		if u>>63 != 0 {
			return h, fmt.Errorf("%w: 64-bit length with high bit set", ErrProtocol)
		}
		h.n = int64(u)
	}
	if h.masked {
		if err = c.readFull(c.hdr[:4]); err != nil {
			return h, err
		}
		h.key = binary.LittleEndian.Uint32(c.hdr[:4])
	}
	return h, nil
}

// ReadMessage returns the next complete data message (OpText or OpBinary).
// It answers pings, skips pongs, reassembles fragments, and on a Close frame
// replies with Close, closes the connection and returns *CloseError. The
// returned slice is owned by the caller.
//
// Peer violations close the connection with the matching status and return
// an error: ErrProtocol (1002), ErrInvalidUTF8 (1007) or ErrTooBig (1009,
// decided from the frame header before any payload is allocated); before
// returning it half-closes TCP and discards the peer's bytes for up to 1s /
// 4 MiB so the Close frame is not lost to a TCP reset. After
// Close, it returns ErrClosed. Network errors are returned wrapped (io.EOF
// when the peer closed TCP without a Close frame).
func (c *Conn) ReadMessage() (op int, p []byte, err error) {
	if c.readErr != nil {
		return 0, nil, c.readErr
	}
	if c.closed.Load() {
		// Close was called: do not hand out frames still buffered.
		return 0, nil, c.readFailed(net.ErrClosed)
	}
	op, p, err = c.readMessage()
	if err != nil {
		c.releaseRead() // errors are final
	}
	if more := c.rbuf != nil; c.more.Load() != more {
		c.more.Store(more)
	}
	return op, p, err
}

// Buffered reports whether the last ReadMessage left received bytes
// buffered (the next ReadMessage starts without waiting for the network).
// Safe for concurrent use: a writer may use it to let replies to a burst of
// messages gather into one write.
func (c *Conn) Buffered() bool { return c.more.Load() }

func (c *Conn) readMessage() (op int, p []byte, err error) {
	var msg []byte
	var msgOp byte // opcode of the message being reassembled; 0 when none
	for {
		h, err := c.readHeader()
		if err != nil {
			return 0, nil, c.readFailed(err)
		}
		if isControl(h.op) {
			if err := c.handleControl(h); err != nil {
				return 0, nil, err
			}
			continue
		}
		if h.op == OpContinuation {
			if msgOp == 0 {
				return 0, nil, c.readFailed(fmt.Errorf("%w: continuation without a message", ErrProtocol))
			}
		} else {
			if msgOp != 0 {
				return 0, nil, c.readFailed(fmt.Errorf("%w: new message inside a fragmented one", ErrProtocol))
			}
			msgOp = h.op
		}
		total := int64(len(msg)) + h.n
		if h.n > c.maxMsg || total > c.maxMsg {
			return 0, nil, c.fail(CloseMessageTooBig, ErrTooBig)
		}
		if msg == nil && h.fin && h.n <= growStep {
			msg = make([]byte, 0, h.n)
		}
		start := len(msg)
		if msg, err = c.readPayload(msg, h.n); err != nil {
			return 0, nil, c.readFailed(err)
		}
		if h.masked {
			maskBytes(h.key, 0, msg[start:])
		}
		if !h.fin {
			continue
		}
		if msgOp == OpText && !utf8.Valid(msg) {
			return 0, nil, c.fail(CloseInvalidPayload, ErrInvalidUTF8)
		}
		return int(msgOp), msg, nil
	}
}

// errStopLoop ends a ReadMessages callback run without an error of its own.
var errStopLoop = errors.New("ws: stop")

// errNap ends a ReadMessages callback run to sleep until the next tick of
// the ReadCoalesce clock.
var errNap = errors.New("ws: nap")

// Coalescing (Config.ReadCoalesce): napMinReads reads that each emptied
// the socket, within one period, start it; napLowat is the low-water mark
// while polling on the clock (one full read buffer still wakes the reader
// at once); napEmptyPolls polls in a row that find nothing end it, and so
// do napThinPolls polls in a row that bring one message each (a peer that
// waits for each answer, which the clock would hold to one per period),
// after which it may not start again for napCooldown periods. A spell none
// of whose polls brought more than one message doubles the next cooldown,
// up to napCooldownMax periods, so a peer that always waits for its answers
// is slowed for napThinPolls periods in about napCooldownMax, not in every
// napCooldown; a spell that paid resets it.
const (
	napLowat       = readBufSize
	napEmptyPolls  = 4
	napMinReads    = 3
	napThinPolls   = 4
	napCooldown    = 64
	napCooldownMax = 4096
)

// nextNapCooldown returns the periods coalescing may not start again for
// after a spell ended for a waiting peer: napCooldown after a spell that
// paid (rich) or the first, otherwise twice the last (prev), up to
// napCooldownMax.
func nextNapCooldown(prev int, rich bool) int {
	if rich || prev == 0 {
		return napCooldown
	}
	return min(2*prev, napCooldownMax)
}

// napNext is called when a read has emptied the socket and everything it
// brought was dispatched: it reports whether the reader should poll again
// on the ReadCoalesce clock instead of waiting for readability, raising the
// socket's low-water mark when it starts to.
func (c *Conn) napNext(fd uintptr) bool {
	if c.nap <= 0 {
		return false
	}
	msgs := c.napMsgs
	c.napMsgs = 0
	if c.napping.Load() {
		// A peer whose polls bring one message each is waiting for its
		// answers: the clock only slows it down. Stop, and do not start
		// again for a while.
		if msgs > 1 {
			c.napThin, c.napRich = 0, true
		} else if c.napThin++; c.napThin >= napThinPolls {
			c.napThin, c.napQuits = 0, c.napQuits+1
			c.napCool = nextNapCooldown(c.napCool, c.napRich)
			c.napBlock = time.Since(epoch) + time.Duration(c.napCool)*c.nap
			c.endNap(fd)
			return false
		}
	}
	if !c.napping.Load() {
		now := time.Since(epoch)
		if now < c.napBlock {
			return false
		}
		if now-c.napSince > c.nap {
			c.napSince, c.napReads = now, 0
		}
		if c.napReads++; c.napReads < napMinReads {
			return false
		}
		if rawio.SetRcvLowat(int(fd), napLowat) != nil {
			c.nap = 0 // not on this platform or socket
			return false
		}
		c.napping.Store(true)
		c.naps++
		c.napRich = false
	}
	c.napEmpty = 0
	return true
}

// endNap lowers the socket's low-water mark back to one byte and leaves
// the clock's group.
func (c *Conn) endNap(fd uintptr) {
	if err := c.dropPeeked(fd); err != nil && c.readErr == nil {
		c.readErr = err
	}
	c.napping.Store(false)
	if err := rawio.SetRcvLowat(int(fd), 1); err != nil {
		// The socket is failing; the next read says how.
		c.nap = 0
	}
	c.napLeave()
}

// napLeave takes the reader out of the group of readers its last tick
// woke, handing the group its idle hook (see napClock).
func (c *Conn) napLeave() {
	if gen := c.napGen; gen != 0 {
		c.napGen = 0
		c.napClk.leave(gen, c.loopIdle)
	}
}

// napTick leaves the reader's group and waits for the next tick, whose
// group it joins.
func (c *Conn) napTick() {
	if c.napClk == nil {
		c.napClk = napClockFor(c.nap)
	}
	gen := c.napGen
	c.napGen = 0
	c.napClk.leave(gen, c.loopIdle)
	c.napGen = c.napClk.wait()
}

// Napping reports whether the reader is coalescing (Config.ReadCoalesce):
// what its burst causes to be written is best deferred to its idle hook,
// which runs with those of the other readers of the same tick.
func (c *Conn) Napping() bool { return c.napping.Load() }

// ReadMessages reads messages and calls fn with each, until ReadMessage
// would return an error (returned) or fn returns one (returned as is). It
// behaves as a ReadMessage loop but costs fewer system calls on a socket:
// it reads and dispatches inside one syscall.RawConn.Read, so after a read
// that left the socket empty it waits for readability at once instead of
// first failing a read. fn runs on the calling goroutine and may block (the
// peer is not read meanwhile); it must not call ReadMessage(s).
func (c *Conn) ReadMessages(fn func(op int, p []byte) error) error {
	return c.ReadMessagesIdle(fn, nil)
}

// ReadMessagesIdle is ReadMessages with a hook: idle (if not nil) runs on
// the calling goroutine whenever every message received so far has been
// given to fn and the next one may have to wait for the network. A caller
// that defers work while it dispatches a burst (replies to gather into one
// write) does it there.
func (c *Conn) ReadMessagesIdle(fn func(op int, p []byte) error, idle func()) error {
	c.loopIdle = idle
	defer func() { c.loopIdle = nil }()
	for {
		if c.readErr != nil {
			return c.readErr
		}
		if c.rc == nil || len(c.pending) > 0 || (c.rbuf != nil && !c.bufferedMessage()) {
			// Not a whole buffered message (or not a socket): the plain way.
			if idle != nil && (c.rbuf == nil || !c.bufferedMessage()) {
				idle()
			}
			op, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if err := fn(op, p); err != nil {
				return err
			}
			continue
		}
		if c.loopCb == nil {
			c.loopCb = c.loopRead
		}
		c.loopFn, c.loopErr, c.rerr, c.drained = fn, nil, nil, false
		c.inCb = true
		c.inRead.Store(true)
		err := c.rc.Read(c.loopCb)
		c.inRead.Store(false)
		c.inCb = false
		c.loopFn = nil
		if c.napping.Load() && c.loopErr != errNap {
			// Leaving the loop some other way: whoever reads next waits
			// for readability, which needs the low-water mark back at 1.
			_ = c.rc.Control(c.endNap)
			c.napLeave() // if Control could not run endNap
		}
		if c.closed.Load() {
			// Close ran while we were inside rc.Read: it only shut the
			// socket down (no linger left to do).
			c.failLater = false
			_ = c.nc.Close()
		}
		if c.failLater { // fail's linger and Close, deferred
			c.failLater = false
			c.linger()
			_ = c.Close()
		}
		switch {
		case c.loopErr != nil:
			err, c.loopErr = c.loopErr, nil
			if err == errStopLoop {
				continue
			}
			if err == errNap {
				c.napTick()
				continue
			}
			return err
		case err != nil:
			return c.readFailed(err)
		case c.rerr != nil:
			return c.readFailed(c.rerr)
		}
		if c.readErr != nil {
			return c.readErr
		}
	}
}

// loopRead is ReadMessages' rc.Read callback: it reads, dispatches every
// whole buffered message, and returns false to wait for readability. It
// returns true to leave: an error, or a partial message to be completed the
// plain way.
func (c *Conn) loopRead(fd uintptr) bool {
	for {
		if c.rbuf == nil {
			if c.drained {
				// The last read left the socket empty; bytes arriving
				// since then make it readable, and a wait inside the same
				// rc.Read does not miss that.
				c.drained = false
				wasNapping := c.napping.Load()
				if c.napNext(fd) {
					// Polling on the clock: the idle hook runs with the
					// tick's group (napTick).
					c.loopErr = errNap
					return true
				}
				if wasNapping {
					// Coalescing just ended (a waiting peer; endNap ran
					// the hook) with the mark still up since the last
					// read: read once more before waiting, as after
					// empty polls.
					continue
				}
				if c.loopIdle != nil {
					c.loopIdle()
				}
				return false
			}
			if c.closed.Load() {
				c.loopErr = c.readFailed(net.ErrClosed)
				return true
			}
			if !c.readFD(fd) {
				if c.napping.Load() {
					// A poll on the clock found nothing (what came before
					// was dispatched and its writes flushed already).
					if c.napEmpty++; c.napEmpty < napEmptyPolls {
						c.loopErr = errNap
						return true
					}
					// Quiet again: wait for readability. Bytes that came
					// after that read but before the mark went down raise
					// no event, so read once more first.
					c.endNap(fd)
					continue
				}
				if c.loopIdle != nil {
					c.loopIdle()
				}
				return false
			}
			if c.rbuf == nil {
				return true // c.rerr says why
			}
			c.drained = c.rend < len(*c.rbuf)
		}
		for c.rbuf != nil && c.bufferedMessage() {
			op, p, err := c.ReadMessage()
			if err == nil {
				c.napMsgs++
				err = c.loopFn(op, p)
			}
			if err != nil {
				c.loopErr = err
				return true
			}
		}
		if c.rbuf != nil {
			c.loopErr = errStopLoop
			return true
		}
	}
}

// bufferedMessage reports whether the read buffer holds a whole message
// (its frames up to the final data frame, control frames between), or a
// frame header ReadMessage rejects before its payload: either way
// ReadMessage returns without reading the network.
func (c *Conn) bufferedMessage() bool {
	b := (*c.rbuf)[c.rpos:c.rend]
	var total int64
	for {
		if len(b) < 2 {
			return false
		}
		b0, b1 := b[0], b[1]
		op := b0 & opMask
		n := int64(b1 & lenMask)
		masked := b1&maskBit != 0
		switch op {
		case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		default:
			return true
		}
		if b0&rsvBits != 0 || masked == c.client || (isControl(op) && (b0&finBit == 0 || n > maxCtrlLen)) {
			return true
		}
		hl := 2
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if masked {
			hl += 4
		}
		if len(b) < hl {
			return false
		}
		switch n {
		case 126:
			n = int64(binary.BigEndian.Uint16(b[2:4]))
		case 127:
			u := binary.BigEndian.Uint64(b[2:10])
			if u>>63 != 0 {
				return true
			}
			n = int64(u)
		}
		if !isControl(op) {
			total += n
			if n > c.maxMsg || total > c.maxMsg {
				return true
			}
		}
		if int64(len(b)-hl) < n {
			return false
		}
		b = b[hl+int(n):]
		if !isControl(op) && b0&finBit != 0 {
			return true
		}
	}
}

// growStep bounds how far ahead of the received bytes a message buffer is
// allocated: a peer that announces a large frame must send it to make us
// allocate it, so idle or slow peers cannot pin MaxMessageBytes each.
const growStep = 64 << 10

// readPayload appends n payload bytes to msg, growing it geometrically (at
// least growStep at a time, never past what the frame announced).
func (c *Conn) readPayload(msg []byte, n int64) ([]byte, error) {
	for n > 0 {
		if len(msg) == cap(msg) {
			msg = slices.Grow(msg, int(min(n, max(int64(len(msg)), growStep))))
		}
		step := min(n, int64(cap(msg)-len(msg)))
		start := len(msg)
		msg = msg[:start+int(step)]
		if err := c.readFull(msg[start:]); err != nil {
			return msg, err
		}
		n -= step
	}
	return msg, nil
}

// readFailed turns a read-side error into the sticky result: protocol
// violations are answered with 1002, a local Close yields ErrClosed, other
// network errors are wrapped.
func (c *Conn) readFailed(err error) error {
	if errors.Is(err, ErrProtocol) {
		return c.fail(CloseProtocolError, err)
	}
	if c.closed.Load() {
		c.readErr = ErrClosed
		return ErrClosed
	}
	c.readErr = fmt.Errorf("ws: read: %w", err)
	return c.readErr
}

// fail sends a Close frame with code (unless one was sent already), closes
// the connection and records err as the sticky read error.
func (c *Conn) fail(code int, err error) error {
	var buf [maxCtrlLen]byte
	c.wmu.Lock()
	if !c.closeSent && !c.closed.Load() {
		c.closeSent = true
		_ = c.writeFrameLocked(OpClose, closePayload(buf[:], code, ""))
	}
	c.wmu.Unlock()
	c.readErr = err
	if c.inCb {
		c.failLater = true // linger reads nc: not inside rc.Read
		return err
	}
	c.linger()
	_ = c.Close()
	return err
}

// linger half-closes a TCP connection after a failing Close frame and
// discards what the peer still sends (bounded in bytes and time), so that
// closing with unread data does not turn into a RST that could destroy the
// Close frame before the peer reads it.
func (c *Conn) linger() {
	cw, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || c.closed.Load() || cw.CloseWrite() != nil {
		return
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	c.pending = nil
	c.releaseRead()
	_, _ = io.CopyN(io.Discard, c.nc, lingerBytes)
}

const (
	lingerTime  = time.Second
	lingerBytes = 4 << 20
)

// handleControl reads a control frame's payload (at most 125 bytes) and
// acts on it. It returns nil to keep reading, or the final error.
func (c *Conn) handleControl(h header) error {
	var buf [maxCtrlLen]byte
	p := buf[:h.n]
	if err := c.readFull(p); err != nil {
		return c.readFailed(err)
	}
	if h.masked {
		maskBytes(h.key, 0, p)
	}
	switch h.op {
	case OpPing:
		c.wmu.Lock()
		var err error
		if !c.closeSent {
			err = c.writeFrameLocked(OpPong, p)
		}
		c.wmu.Unlock()
		if err != nil {
			return c.readFailed(err)
		}
	case OpClose:
		code, reason := CloseNoStatus, ""
		switch {
		case len(p) == 1:
			return c.readFailed(fmt.Errorf("%w: 1-byte close payload", ErrProtocol))
		case len(p) >= 2:
			code = int(binary.BigEndian.Uint16(p))
			if !validCloseCode(code) {
				return c.readFailed(fmt.Errorf("%w: invalid close code %d", ErrProtocol, code))
			}
			if !utf8.Valid(p[2:]) {
				return c.fail(CloseInvalidPayload, ErrInvalidUTF8)
			}
			reason = string(p[2:])
		}
		// §5.5.1: answer with a Close echoing the status code, then drop TCP.
		c.wmu.Lock()
		if !c.closeSent && !c.closed.Load() {
			c.closeSent = true
			_ = c.writeFrameLocked(OpClose, closePayload(buf[:], code, ""))
		}
		c.wmu.Unlock()
		_ = c.Close()
		ce := &CloseError{Code: code, Reason: reason}
		c.readErr = ce
		return ce
	}
	return nil
}

// WriteMessage sends one unfragmented data message (op is OpText or
// OpBinary). It is safe for concurrent use; each call writes whole frames
// under one lock with a WriteTimeout deadline (see Config). Text is not checked for UTF-8
// validity. p is not modified. A failed write closes the connection, as the
// stream may hold a partial frame. After a Close frame was sent it returns
// ErrClosed.
func (c *Conn) WriteMessage(op int, p []byte) error {
	if op != OpText && op != OpBinary {
		return fmt.Errorf("ws: WriteMessage: opcode %d is not a data opcode", op)
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.closed.Load() {
		return ErrClosed
	}
	return c.writeFrameLocked(byte(op), p)
}

// Message is one data message for WriteMessages.
type Message struct {
	Op   int // OpText or OpBinary
	Data []byte
}

// batchLarge is the payload size from which a server frame in a batch is
// not copied: its header goes into the batch buffer and the payload is
// referenced by its own writev element.
const batchLarge = 2 << 10

// writeBatch is the scratch of one WriteMessages call.
type writeBatch struct {
	buf []byte      // gathered frames (headers and small payloads)
	iov [][]byte    // writev elements
	v   net.Buffers // iov being written (kept here so it does not escape per call)

	// TryWriteMessages: fn is the RawConn.Write callback (allocated once
	// per pooled batch), writing buf once; n and err are its results.
	fn  func(fd uintptr) bool
	n   int
	err error
}

var batchPool = sync.Pool{New: func() any {
	wb := &writeBatch{buf: make([]byte, 0, smallFrame), iov: make([][]byte, 0, 16)}
	wb.fn = wb.writeOnce
	return wb
}}

// writeOnce makes one write system call of buf, without waiting.
func (wb *writeBatch) writeOnce(fd uintptr) bool {
	n, err := rawio.Write(int(fd), wb.buf)
	wb.n, wb.err = n, nil
	if err != nil && err != syscall.EAGAIN {
		wb.err = os.NewSyscallError("write", err)
	}
	return true
}

// TryWriteMessages is WriteMessages without waiting for the socket: it
// writes msgs only if the connection takes them at once, and reports
// false, having written nothing, when it would have to wait (bytes of an
// earlier call are still pending, the frames do not fit one pooled
// buffer, the socket's buffer is full, or the connection is not a socket).
// When the socket takes only part of the frames, the rest is kept and
// written first by the next write; Pending reports it and Flush writes it.
func (c *Conn) TryWriteMessages(msgs []Message) (bool, error) {
	if c.rc == nil {
		return false, nil
	}
	size := 0
	for i := range msgs {
		if op := msgs[i].Op; op != OpText && op != OpBinary {
			return false, fmt.Errorf("ws: TryWriteMessages: opcode %d is not a data opcode", op)
		}
		size += maxHeaderLen + len(msgs[i].Data)
	}
	if size > smallFrame {
		return false, nil
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.closed.Load() {
		return false, ErrClosed
	}
	if c.wtail != nil {
		return false, nil
	}
	if err := c.armWriteLocked(); err != nil {
		return false, c.writeFailed(err)
	}
	wb := batchPool.Get().(*writeBatch)
	defer batchPool.Put(wb)
	buf := wb.buf[:0]
	for i := range msgs {
		var key uint32
		if c.client {
			key = newMaskKey()
		}
		p := msgs[i].Data
		hn := putHeader(buf[len(buf):len(buf)+maxHeaderLen], true, byte(msgs[i].Op), len(p), c.client, key)
		buf = buf[:len(buf)+hn]
		start := len(buf)
		buf = append(buf, p...)
		if c.client {
			maskBytes(key, 0, buf[start:])
		}
	}
	wb.buf = buf
	err := c.rc.Write(wb.fn)
	if err == nil {
		err = wb.err
	}
	n := wb.n
	wb.buf, wb.err = buf[:0], nil
	switch {
	case err != nil:
		return false, c.writeFailed(err)
	case n == 0:
		return false, nil
	case n < len(buf):
		c.wtail = append([]byte(nil), buf[n:]...)
	}
	return true, nil
}

// Pending reports whether bytes of a TryWriteMessages call wait to be
// written (by Flush or the next write).
func (c *Conn) Pending() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.wtail != nil
}

// Flush writes the bytes TryWriteMessages left pending, waiting up to
// WriteTimeout. Without pending bytes it returns nil at once.
func (c *Conn) Flush() error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.wtail == nil {
		return nil
	}
	if c.closed.Load() {
		return ErrClosed
	}
	if err := c.armWriteLocked(); err != nil {
		return c.writeFailed(err)
	}
	return c.flushTailLocked()
}

// flushTailLocked writes the pending tail (the deadline is armed). c.wmu
// must be held.
func (c *Conn) flushTailLocked() error {
	if c.wtail == nil {
		return nil
	}
	_, err := c.netWrite(c.wtail)
	c.wtail = nil
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// WriteMessages writes msgs in order, each as one unfragmented frame, like
// as many WriteMessage calls but with few system calls: frames are gathered
// into a pooled buffer (large server payloads are referenced, not copied)
// and written with one write or writev per buffer-full, under one
// WriteTimeout deadline. The frames of one call are contiguous on the wire.
// On error some leading messages may have been written, and the connection
// is closed (see WriteMessage).
func (c *Conn) WriteMessages(msgs []Message) error {
	for i := range msgs {
		if op := msgs[i].Op; op != OpText && op != OpBinary {
			return fmt.Errorf("ws: WriteMessages: opcode %d is not a data opcode", op)
		}
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.closed.Load() {
		return ErrClosed
	}
	switch len(msgs) {
	case 0:
		return nil
	case 1:
		return c.writeFrameLocked(byte(msgs[0].Op), msgs[0].Data)
	}
	if err := c.armWriteLocked(); err != nil {
		return c.writeFailed(err)
	}
	if err := c.flushTailLocked(); err != nil {
		return err
	}
	wb := batchPool.Get().(*writeBatch)
	err := c.writeBatchLocked(wb, msgs)
	clear(wb.iov[:cap(wb.iov)])
	wb.buf, wb.iov = wb.buf[:0], wb.iov[:0]
	batchPool.Put(wb)
	if err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// writeBatchLocked does WriteMessages' writing. c.wmu must be held.
func (c *Conn) writeBatchLocked(wb *writeBatch, msgs []Message) error {
	buf, seg := wb.buf[:0], 0 // buf[seg:] is not in wb.iov yet
	flush := func() error {
		if seg < len(buf) {
			wb.iov = append(wb.iov, buf[seg:])
		}
		var err error
		switch len(wb.iov) {
		case 0:
		case 1:
			_, err = c.netWrite(wb.iov[0])
		default:
			wb.v = wb.iov
			err = c.netWriteBuffers(&wb.v)
			wb.v = nil
		}
		buf, seg, wb.iov = buf[:0], 0, wb.iov[:0]
		return err
	}
	for i := range msgs {
		op, p := byte(msgs[i].Op), msgs[i].Data
		if !c.client && len(p) >= batchLarge {
			if len(buf)+maxHeaderLen > cap(buf) || len(wb.iov) >= 1000 {
				if err := flush(); err != nil {
					return err
				}
			}
			hn := putHeader(buf[len(buf):len(buf)+maxHeaderLen], true, op, len(p), false, 0)
			buf = buf[:len(buf)+hn]
			wb.iov = append(wb.iov, buf[seg:], p)
			seg = len(buf)
			continue
		}
		if len(buf)+maxHeaderLen+len(p) > cap(buf) {
			if err := flush(); err != nil {
				return err
			}
			if maxHeaderLen+len(p) > cap(buf) {
				// A large client frame: masked chunk by chunk.
				if err := c.writeFrameNoDeadline(op, p); err != nil {
					return err
				}
				continue
			}
		}
		var key uint32
		if c.client {
			key = newMaskKey()
		}
		hn := putHeader(buf[len(buf):len(buf)+maxHeaderLen], true, op, len(p), c.client, key)
		buf = buf[:len(buf)+hn]
		start := len(buf)
		buf = append(buf, p...)
		if c.client {
			maskBytes(key, 0, buf[start:])
		}
	}
	err := flush()
	wb.buf = buf
	return err
}

// WritePing sends a Ping control frame (payload at most 125 bytes). The
// peer's Pong is consumed by ReadMessage.
func (c *Conn) WritePing(p []byte) error {
	if len(p) > maxCtrlLen {
		return fmt.Errorf("ws: ping payload of %d bytes exceeds 125", len(p))
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.closed.Load() {
		return ErrClosed
	}
	return c.writeFrameLocked(OpPing, p)
}

// WriteClose sends a Close frame with code and reason; it does not close the
// TCP connection (keep calling ReadMessage to receive the peer's answer as a
// *CloseError, or call Close). CloseNoStatus sends an empty body. The code
// must be sendable (1000-1003, 1007-1014, 3000-4999); reason is cut to 123
// bytes. A second call returns ErrClosed.
func (c *Conn) WriteClose(code int, reason string) error {
	if code != CloseNoStatus && !validCloseCode(code) {
		return fmt.Errorf("ws: WriteClose: invalid close code %d", code)
	}
	var buf [maxCtrlLen]byte
	body := closePayload(buf[:], code, truncateReason(reason))
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closeSent || c.closed.Load() {
		return ErrClosed
	}
	c.closeSent = true
	return c.writeFrameLocked(OpClose, body)
}

// Close closes the underlying connection without a close handshake.
// Idempotent: later calls return nil.
func (c *Conn) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	if c.inRead.Load() {
		// The reader is inside rc.Read (ReadMessages), which nc.Close would
		// wait for, forever if called from a message handler: shut the
		// socket down (the peer sees FIN, the reader wakes up) and let the
		// reader close it when it leaves.
		_ = c.rc.Control(func(fd uintptr) { _ = rawio.Shutdown(int(fd)) })
		if c.inRead.Load() {
			return nil
		}
	}
	return c.nc.Close() // may race with the reader's close: one of them wins
}

// smallFrame is the largest frame (header included) built in one pooled
// buffer; bigger server frames go out as header+payload through net.Buffers
// (writev), bigger client frames are masked chunk by chunk.
const smallFrame = 8 << 10

var framePool = sync.Pool{New: func() any { b := make([]byte, smallFrame); return &b }}

// epoch is the reference for Conn.wdl (monotonic).
var epoch = time.Now()

// armWriteLocked makes sure the write deadline leaves at least
// writeTimeout from now. It moves the deadline (a runtime timer operation)
// only when less is left, and then to 1.25 × writeTimeout ahead, so a busy
// connection resets its timer a few times per writeTimeout rather than once
// per write. c.wmu must be held.
func (c *Conn) armWriteLocked() error {
	now := time.Since(epoch)
	if c.wdl-now >= c.writeTimeout {
		return nil
	}
	c.wdl = now + c.writeTimeout + c.writeTimeout/4
	return c.nc.SetWriteDeadline(epoch.Add(c.wdl))
}

// writeFrameLocked writes one final frame. c.wmu must be held.
func (c *Conn) writeFrameLocked(op byte, p []byte) error {
	if err := c.armWriteLocked(); err != nil {
		return c.writeFailed(err)
	}
	if err := c.flushTailLocked(); err != nil {
		return err
	}
	if err := c.writeFrameNoDeadline(op, p); err != nil {
		return c.writeFailed(err)
	}
	return nil
}

// writeFrameNoDeadline writes one final frame and returns the raw error.
// c.wmu must be held.
func (c *Conn) writeFrameNoDeadline(op byte, p []byte) error {
	bp := framePool.Get().(*[]byte)
	defer framePool.Put(bp)
	buf := *bp
	var key uint32
	if c.client {
		key = newMaskKey()
	}
	hn := putHeader(buf, true, op, len(p), c.client, key)
	var err error
	switch {
	case hn+len(p) <= len(buf):
		n := copy(buf[hn:], p)
		if c.client {
			maskBytes(key, 0, buf[hn:hn+n])
		}
		_, err = c.netWrite(buf[:hn+n])
	case !c.client:
		bufs := net.Buffers{buf[:hn], p}
		err = c.netWriteBuffers(&bufs)
	default:
		// Mask into the pooled buffer chunk by chunk so the caller's slice
		// stays untouched; the lock keeps the chunks contiguous on the wire.
		pos := 0
		off := hn
		for len(p) > 0 && err == nil {
			n := copy(buf[off:], p)
			pos = maskBytes(key, pos, buf[off:off+n])
			_, err = c.netWrite(buf[:off+n])
			p = p[n:]
			off = 0
		}
	}
	return err
}

// writeFailed closes the connection after a failed write.
func (c *Conn) writeFailed(err error) error {
	if c.closed.Load() {
		return ErrClosed
	}
	_ = c.Close()
	return fmt.Errorf("ws: write: %w", err)
}

// netWrite writes p to the connection: on a socket with raw write system
// calls (package rawio), else with nc.Write.
func (c *Conn) netWrite(p []byte) (int, error) {
	if c.rw != nil {
		return c.rw.Write(p)
	}
	return c.nc.Write(p)
}

// netWriteBuffers writes every byte of *v (consuming it) to the
// connection: on a socket with writev through rawio, else with
// net.Buffers.WriteTo.
func (c *Conn) netWriteBuffers(v *net.Buffers) error {
	var err error
	if c.rw != nil {
		_, err = c.rw.WriteBuffers(v)
	} else {
		_, err = v.WriteTo(c.nc)
	}
	return err
}
