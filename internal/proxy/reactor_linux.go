//go:build linux

package proxy

import (
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// reactor serves tunnel directions from one epoll set. An idle direction
// holds no goroutine and no buffer: only its socket's registration. The
// epoll descriptor itself sits in Go's netpoller, so the reactor goroutine
// parks there like any network read and holds no OS thread while idle.
//
// Registrations are edge-triggered and persistent (no epoll_ctl per
// message). When a source is readable the reactor copies it inline, on its
// own goroutine, through one shared buffer: a non-blocking read, a
// non-blocking write to the destination, repeated while reads fill the
// buffer (a short read means the socket was drained, and new data raises a
// new edge). Only when the destination would block (a slow consumer),
// the source keeps the buffer full (a bulk transfer), the tunnel is being
// closed gracefully, or the destination cannot be written raw (TLS) is the
// direction handed to a goroutine (dir.pump), with its registration
// disabled until the goroutine gives it back.
type reactor struct {
	f     *os.File        // the epoll descriptor, registered in Go's netpoller
	rc    syscall.RawConn // of f: Control guards the descriptor's lifetime
	spawn func(func())

	mu     sync.Mutex // guards dirs, nextID
	dirs   map[uint64]*dir
	nextID uint64

	// Owned by the run goroutine.
	events [128]syscall.EpollEvent
	items  [128]batchItem // a batch's readable directions, in event order
	order  [128]batchItem // the same in dispatch order (arrange)
	buf    []byte
	now    int64  // unix nanoseconds, once per batch of events
	cur    *dir   // the direction being served inline
	curEv  uint32 // its event mask
	srcFD  int
	res    inlineResult
	onSrc  func(uintptr) // prebuilt callbacks for RawConn.Control (no allocation per event)
	onDst  func(uintptr)

	// With a send ring, a batch is staged (every source read), then its
	// writes are made in one system call, then it is settled; see stage.
	ring       *rawio.SendRing // nil: one write(2) per direction (no io_uring, or it failed)
	ringOwned  *rawio.SendRing // closed when run ends (ring, even after it failed)
	ringErr    error           // why a ring was asked for and not set up
	arena      []byte          // what a staged batch read, until it is settled
	used       int             // bytes of arena in use
	batch      []batchItem     // the batch being staged
	next       int             // its next item to stage
	curItem    *batchItem      // the item being staged
	onStageSrc func(uintptr)
	onStageDst func(uintptr)
}

// batchItem is a readable direction of one batch and its event mask, and,
// while a batch is staged, what became of it.
type batchItem struct {
	d    *dir
	ev   uint32
	how  uint8  // one of the stage* constants
	more bool   // the read filled its buffer: the source may hold more
	send int    // stageSent: the send's index in the ring
	data []byte // stageRead, stageSent: what was read, in arena
}

// What stage did with a direction; settle finishes each accordingly.
const (
	stageDispatch = iota // nothing: settle dispatches it the plain way
	stageSkip            // not armed (gone, or a goroutine owns it)
	stageDrained         // the source had nothing
	stageEOF             // the source reached EOF
	stageError           // a read failed, or the destination is closing
	stageRead            // read, not yet queued
	stageSent            // read and queued in the ring
)

// inlineResult is how an inline copy ended.
type inlineResult struct {
	kind    int    // one of the inline* constants
	pending []byte // bytes read but not written (inlineBlocked), aliasing r.buf
}

const (
	inlineDrained = iota // the source would block: wait for the next edge
	inlineEOF            // the source reached EOF
	inlineError          // a read or write failed: abort the tunnel
	inlineBlocked        // the destination would block: pending must be written by a goroutine
	inlineBusy           // the source kept the buffer full: a goroutine takes over
)

// inlineBufSize is the reactor's shared copy buffer (the size of a pump's
// buffer, so pending bytes always fit one); inlineMaxReads full reads in a
// row hand the direction to a goroutine.
const (
	inlineBufSize  = 32 << 10
	inlineMaxReads = 4
)

const (
	epollET       = 1 << 31 // EPOLLET (negative in package syscall)
	reactorEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET
	// reactorPaused leaves only errors and hang-ups, which dispatch ignores
	// while a goroutine owns the direction.
	reactorPaused = epollET
	epollCtlRetry = 3
)

// newReactor returns a reactor; with ring, it makes each batch's writes in
// one io_uring system call where the kernel allows it (r.ringErr says why
// not).
func newReactor(spawn func(func()), ring bool) (*reactor, error) {
	f, rc, err := newEpoll("proxy-reactor")
	if err != nil {
		return nil, err
	}
	r := &reactor{f: f, rc: rc, spawn: spawn, dirs: map[uint64]*dir{}, nextID: 1, buf: make([]byte, inlineBufSize)}
	r.onSrc = r.withSrc
	r.onDst = r.copyInline
	if ring {
		if r.ring, r.ringErr = rawio.NewSendRing(len(r.events)); r.ringErr == nil {
			r.ringOwned = r.ring
			r.arena = make([]byte, arenaSize)
			r.onStageSrc = r.stageSrc
			r.onStageDst = r.stageDst
		}
	}
	return r, nil
}

// newEpoll returns a non-blocking epoll set as a file in Go's netpoller
// (a goroutine parks on it with RawConn.Read) and its RawConn.
func newEpoll(name string) (*os.File, syscall.RawConn, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, nil, err
	}
	if err := syscall.SetNonblock(epfd, true); err != nil {
		_ = syscall.Close(epfd)
		return nil, nil, err
	}
	f := os.NewFile(uintptr(epfd), name)
	rc, err := f.SyscallConn()
	if err != nil {
		_ = f.Close()
		return nil, nil, err
	}
	return f, rc, nil
}

// usesRing reports whether the reactor was set up with a send ring.
func (r *reactor) usesRing() bool { return r.ringOwned != nil }

// cutArena shrinks the staging buffer to n bytes (tests).
func (r *reactor) cutArena(n int) {
	if r.arena != nil {
		r.arena = r.arena[:n]
	}
}

func setEventID(ev *syscall.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// ctl runs epoll_ctl for d's source; both descriptors are held open meanwhile.
func (r *reactor) ctl(op int, d *dir, events uint32) error {
	return epollCtl(r.rc, d.raw, op, d.rid, events)
}

// epollCtl runs epoll_ctl(op) for the socket of rc in the epoll set of ep,
// with events known by id; both descriptors are held open meanwhile
// (errClosing when one is closing).
func epollCtl(ep, rc syscall.RawConn, op int, id uint64, events uint32) error {
	var err error
	cerr := ep.Control(func(epfd uintptr) {
		cerr := rc.Control(func(fd uintptr) {
			ev := syscall.EpollEvent{Events: events}
			setEventID(&ev, id)
			for range epollCtlRetry {
				if err = syscall.EpollCtl(int(epfd), op, int(fd), &ev); err != syscall.EINTR {
					return
				}
			}
		})
		if err == nil {
			err = cerr
		}
	})
	if err == nil && cerr != nil {
		err = errClosing
	}
	return err
}

// add registers d (its src must have a RawConn); it is served from now on.
func (r *reactor) add(d *dir) error {
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.dirs[id] = d
	r.mu.Unlock()
	d.rid = id
	d.rc = r
	d.state.Store(dirArmed)
	if err := r.ctl(syscall.EPOLL_CTL_ADD, d, reactorEvents); err != nil {
		r.mu.Lock()
		delete(r.dirs, id)
		r.mu.Unlock()
		d.rid = 0
		d.rc = nil
		return err
	}
	return nil
}

// pause stops events for d while a goroutine copies it.
func (r *reactor) pause(d *dir) error { return r.ctl(syscall.EPOLL_CTL_MOD, d, reactorPaused) }

// arm gives d back to the reactor (d.state is dirArmed already). Re-enabling
// the registration makes epoll check readiness again, so bytes that arrived
// while a goroutine owned d raise an event.
func (r *reactor) arm(d *dir) error { return r.ctl(syscall.EPOLL_CTL_MOD, d, reactorEvents) }

// remove forgets d; a closed socket leaves the epoll set by itself.
func (r *reactor) remove(d *dir) {
	if d.rid == 0 {
		return
	}
	r.mu.Lock()
	delete(r.dirs, d.rid)
	r.mu.Unlock()
	_ = r.ctl(syscall.EPOLL_CTL_DEL, d, 0)
}

// run dispatches readiness until close. The goroutine parks in Go's
// netpoller on the epoll descriptor; RawConn.Read resets its readiness once
// before the first callback, and every new event in the set raises it
// again, so an event arriving after a harvest is never missed.
func (r *reactor) run() {
	if r.ringOwned != nil {
		defer r.ringOwned.Close()
	}
	_ = r.rc.Read(func(epfd uintptr) bool {
		for {
			n, err := rawio.EpollWait(int(epfd), r.events[:])
			if err != nil {
				return true
			}
			if n > 0 {
				r.now = time.Now().UnixNano()
				r.serve(n)
			}
			// Park only after a poll found nothing: events that came while
			// this batch was served are taken now, without a trip through
			// the netpoller and the scheduler.
			if n == 0 {
				return false
			}
		}
	})
}

// serve dispatches the n events of a batch, in arrange's order.
func (r *reactor) serve(n int) {
	items := r.items[:0]
	r.mu.Lock()
	for i := range n {
		if d := r.dirs[eventID(&r.events[i])]; d != nil { // nil: removed meanwhile
			items = append(items, batchItem{d: d, ev: r.events[i].Events})
		}
	}
	r.mu.Unlock()
	order := arrange(items, r.order[:0])
	if r.ring != nil {
		r.batch, r.next = order, 0
		r.stage()
		r.settle()
		return
	}
	for i, it := range order {
		order[i].d = nil // not kept reachable after the batch
		r.dispatch(it.d, it.ev)
	}
}

// stage walks r.batch from r.next, reading each source that can be copied
// inline and queuing its write in the send ring; when the batch is staged,
// it submits the ring: every peer of the batch is written, and woken, in
// one system call. A staged direction's destination is held open
// (RawConn.Control) from its read until the submit, by nesting the rest of
// the batch inside the hold, so a socket closed meanwhile by another
// goroutine keeps its descriptor, which no new connection can take before
// the write is made. The nesting is as deep as the batch has staged
// directions (at most len(r.events)). Nothing here may close a socket, as
// Close waits for the holds: settle ends what has to end.
func (r *reactor) stage() {
	for r.next < len(r.batch) {
		it := &r.batch[r.next]
		r.next++
		d := it.d
		if d.closing.Load() || d.dstRaw == nil || d.buffered || len(r.arena)-r.used < minStageRead {
			continue // stageDispatch
		}
		if !d.state.CompareAndSwap(dirArmed, dirInline) {
			it.how = stageSkip
			continue
		}
		r.curItem = it
		if err := d.raw.Control(r.onStageSrc); err != nil {
			it.how = stageError
		}
		if it.how != stageRead {
			continue
		}
		if err := d.dstRaw.Control(r.onStageDst); err == nil {
			return // stageDst staged the rest of the batch and submitted it
		}
		it.how = stageError // the destination is closing
	}
	r.curItem = nil
	if r.ring.Len() > 0 {
		_ = r.ring.Submit() // a failure shows in each send's Result
	}
}

// stageSrc reads the source of r.curItem into the arena.
func (r *reactor) stageSrc(fd uintptr) {
	it := r.curItem
	slot := r.arena[r.used:min(len(r.arena), r.used+inlineBufSize)]
	n, err := rawio.Read(int(fd), slot)
	switch {
	case err == syscall.EAGAIN:
		it.how = stageDrained
	case err != nil:
		it.how = stageError
	case n == 0:
		it.how = stageEOF
	default:
		it.how, it.data, it.more = stageRead, slot[:n], n == len(slot)
		r.used += n
		if it.d.t.ws {
			it.d.scan.Feed(it.data)
		}
	}
}

// stageDst queues r.curItem's write to the held destination fd, then
// stages the rest of the batch while holding it.
func (r *reactor) stageDst(fd uintptr) {
	it := r.curItem
	it.how, it.send = stageSent, r.ring.Send(int(fd), it.data)
	r.stage()
}

// settle finishes every direction of a staged batch, in its order, once
// no descriptor is held: what the ring wrote, what it could not write, and
// what stage left to a plain dispatch.
func (r *reactor) settle() {
	broken := false
	for i := range r.batch {
		it := r.batch[i]
		r.batch[i] = batchItem{} // not kept reachable after the batch
		d := it.d
		switch it.how {
		case stageDispatch:
			r.dispatch(d, it.ev)
			continue
		case stageSkip:
			continue
		}
		d.t.lastActive.Store(r.now)
		switch it.how {
		case stageDrained:
			r.drained(d)
		case stageEOF:
			r.ended(d, true)
		case stageSent:
			n, err := r.ring.Result(it.send)
			switch {
			case err == nil && n == len(it.data):
				if it.more || it.ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
					// More may be queued, or an EOF came with this edge:
					// read on the plain way.
					d.state.Store(dirArmed)
					r.dispatch(d, it.ev)
				} else {
					r.drained(d)
				}
			case err == nil || err == syscall.EAGAIN:
				r.handOff(d, it.data[n:]) // a slow consumer: a pump writes the rest
			default:
				broken = broken || err == rawio.ErrRingBroken
				r.ended(d, false)
			}
		default: // stageError
			r.ended(d, false)
		}
	}
	r.batch, r.used = nil, 0
	if broken {
		// io_uring failed: the tunnels it left in doubt were aborted;
		// from now on, one write(2) per direction.
		r.ring, r.arena = nil, nil
	}
}

// drained gives d back to epoll after its source ran dry; CloseTunnels may
// have asked for a close meanwhile: then a goroutine takes over, unless it
// already did.
func (r *reactor) drained(d *dir) {
	d.state.Store(dirArmed)
	if d.closing.Load() && d.state.CompareAndSwap(dirArmed, dirOwned) {
		r.spawn(d.run)
	}
}

// ended ends d: after its source's EOF (the destination is half-closed),
// or after a failure (the tunnel is aborted).
func (r *reactor) ended(d *dir, eof bool) {
	d.state.Store(dirOwned)
	if eof {
		d.halfClose()
	} else {
		d.t.abort()
	}
	d.end()
}

// arrange returns items (a batch's readable directions, in event order) in
// the order that wakes each peer the fewest times: first the directions
// toward backends, those toward one backend together, then those toward
// clients. A backend is woken by the first write to any of its connections;
// the writes that follow while it is still waking cost no wake-up of their
// own. Grouped, a backend wakes once for the batch and reads several
// messages; interleaved with writes to other peers, it would run, sleep and
// wake again in between. (Backends sharing the CPUs, WebSocket echo at two
// threads: 0.434 → 0.454 of direct, and 8.56 → 8.18 µs of proxy CPU per
// round trip; at one thread 0.426 → 0.461.) It scans items once per backend
// present, clears items, and appends to out.
func arrange(items, out []batchItem) []batchItem {
	for i := range items {
		if items[i].d == nil || !items[i].d.toServer {
			continue // taken with an earlier backend's group, or toward a client
		}
		b := items[i].d.t.b
		for j := i; j < len(items); j++ {
			if it := items[j]; it.d != nil && it.d.toServer && it.d.t.b == b {
				out = append(out, it)
				items[j].d = nil
			}
		}
	}
	for i, it := range items {
		if it.d != nil {
			out = append(out, it)
			items[i].d = nil
		}
	}
	return out
}

// dispatch serves one readable direction. A direction removed after its
// batch was resolved is dispatched harmlessly: its closed sockets end it
// again, and ending is idempotent.
func (r *reactor) dispatch(d *dir, events uint32) {
	if !d.state.CompareAndSwap(dirArmed, dirInline) {
		return // gone, or a goroutine owns it
	}
	if d.closing.Load() {
		d.state.Store(dirOwned)
		r.spawn(d.run)
		return
	}
	if d.dstRaw == nil || d.buffered {
		r.handOff(d, nil)
		return
	}
	r.cur, r.curEv = d, events
	r.res = inlineResult{kind: inlineError}
	if err := d.raw.Control(r.onSrc); err != nil {
		r.res.kind = inlineError
	}
	r.cur = nil
	res := r.res
	r.res = inlineResult{}
	d.t.lastActive.Store(r.now)
	switch res.kind {
	case inlineDrained:
		r.drained(d)
	case inlineBlocked, inlineBusy:
		r.handOff(d, res.pending)
	case inlineEOF:
		r.ended(d, true)
	default:
		r.ended(d, false)
	}
}

// takeOver gives an armed d to a pump at once (a TLS source may hold
// records already), unless the reactor dispatched it first.
func (r *reactor) takeOver(d *dir) {
	if d.state.CompareAndSwap(dirArmed, dirInline) {
		r.handOff(d, nil)
	}
}

// handOff gives d to a pump goroutine, with pending bytes still to write.
func (r *reactor) handOff(d *dir, pending []byte) {
	buf := getBuf()
	n := copy(*buf, pending)
	d.state.Store(dirPumping)
	_ = r.pause(d) // fails only when the sockets are closing: the pump finds out
	if h := d.t.p.testHookHandoff; h != nil {
		h()
	}
	r.spawn(func() { d.pump(buf, n) })
}

// withSrc runs with the source descriptor held open.
func (r *reactor) withSrc(fd uintptr) {
	r.srcFD = int(fd)
	if err := r.cur.dstRaw.Control(r.onDst); err != nil {
		r.res.kind = inlineError
	}
}

// copyInline copies from r.srcFD to dst without blocking.
func (r *reactor) copyInline(dst uintptr) {
	d := r.cur
	buf := r.buf
	for reads := 0; ; reads++ {
		if reads == inlineMaxReads {
			r.res = inlineResult{kind: inlineBusy}
			return
		}
		n, err := rawio.Read(r.srcFD, buf)
		if n == 0 && err == nil {
			r.res = inlineResult{kind: inlineEOF}
			return
		}
		if err != nil {
			switch err {
			case syscall.EAGAIN:
				r.res = inlineResult{kind: inlineDrained}
			case syscall.EINTR:
				reads--
				continue
			default:
				r.res = inlineResult{kind: inlineError}
			}
			return
		}
		data := buf[:n]
		if d.t.ws {
			d.scan.Feed(data)
		}
		for len(data) > 0 {
			w, err := rawio.Write(int(dst), data)
			if w > 0 {
				data = data[w:]
			}
			if err == nil {
				if w == 0 {
					err = syscall.EAGAIN
				} else {
					continue
				}
			}
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				r.res = inlineResult{kind: inlineBlocked, pending: data}
			default:
				r.res = inlineResult{kind: inlineError}
			}
			return
		}
		// A short read drained the socket: data arriving later raises a
		// new edge. Not so an EOF that came with this edge (the event
		// carries RDHUP/HUP then): read on until it shows.
		if n < len(buf) && r.curEv&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
			r.res = inlineResult{kind: inlineDrained}
			return
		}
	}
}

// close stops run and releases the epoll descriptor (it waits for run).
func (r *reactor) close() { _ = r.f.Close() }
