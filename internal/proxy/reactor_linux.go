//go:build linux

package proxy

import (
	"sync"
	"sync/atomic"
	"syscall"
)

// reactor serves idle tunnel directions from one epoll set, so an idle
// tunnel holds no goroutine and no buffer: only its two sockets. Each
// registered direction is armed one-shot; when its source becomes readable
// the reactor starts a short-lived pump goroutine that copies until the
// source would block and then re-arms it.
type reactor struct {
	epfd  int
	wakeR int // read end of the wake-up pipe (id 0 in the set)
	wakeW int

	closed atomic.Bool
	// fdMu is held shared around epoll_ctl and exclusively to close epfd,
	// so no control call can reach a closed (or reused) descriptor number.
	fdMu sync.RWMutex

	mu     sync.Mutex // guards dirs, nextID
	dirs   map[uint64]*dir
	nextID uint64
}

func newReactor() (*reactor, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		_ = syscall.Close(epfd)
		return nil, err
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, p[0], &ev); err != nil {
		_ = syscall.Close(epfd)
		_ = syscall.Close(p[0])
		_ = syscall.Close(p[1])
		return nil, err
	}
	return &reactor{epfd: epfd, wakeR: p[0], wakeW: p[1], dirs: map[uint64]*dir{}, nextID: 1}, nil
}

const reactorEvents = syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT

func setEventID(ev *syscall.EpollEvent, id uint64) {
	ev.Fd = int32(uint32(id))
	ev.Pad = int32(uint32(id >> 32))
}

func eventID(ev *syscall.EpollEvent) uint64 {
	return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
}

// add registers d (its src must have a RawConn) and arms it.
func (r *reactor) add(d *dir) error {
	if r.closed.Load() {
		return errClosing
	}
	r.mu.Lock()
	id := r.nextID
	r.nextID++
	r.dirs[id] = d
	r.mu.Unlock()
	d.rid = id
	var err error
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.closed.Load() {
		return errClosing
	}
	cerr := d.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: reactorEvents}
		setEventID(&ev, id)
		err = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		r.mu.Lock()
		delete(r.dirs, id)
		r.mu.Unlock()
	}
	return err
}

// arm re-enables d's one-shot registration.
func (r *reactor) arm(d *dir) error {
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.closed.Load() {
		return errClosing
	}
	var err error
	cerr := d.raw.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: reactorEvents}
		setEventID(&ev, d.rid)
		err = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_MOD, int(fd), &ev)
	})
	if err == nil {
		err = cerr
	}
	return err
}

// remove forgets d; a closed socket leaves the epoll set by itself.
func (r *reactor) remove(d *dir) {
	if d.rid == 0 {
		return
	}
	r.mu.Lock()
	delete(r.dirs, d.rid)
	r.mu.Unlock()
	r.fdMu.RLock()
	defer r.fdMu.RUnlock()
	if r.closed.Load() {
		return
	}
	_ = d.raw.Control(func(fd uintptr) {
		_ = syscall.EpollCtl(r.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	})
}

// run dispatches readiness until close. It blocks an OS thread in
// epoll_wait, which the Go scheduler accounts for as a blocking syscall.
func (r *reactor) run(spawn func(func())) {
	var events [128]syscall.EpollEvent
	for {
		n, err := syscall.EpollWait(r.epfd, events[:], -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return
		}
		for i := range n {
			id := eventID(&events[i])
			if id == 0 {
				r.shutdown()
				return
			}
			r.mu.Lock()
			d := r.dirs[id]
			r.mu.Unlock()
			if d != nil && d.state.CompareAndSwap(dirArmed, dirPumping) {
				spawn(d.pump)
			}
		}
	}
}

// close wakes run, which then releases the epoll set and the pipe.
func (r *reactor) close() {
	if r.closed.Swap(true) {
		return
	}
	_, _ = syscall.Write(r.wakeW, []byte{1})
}

func (r *reactor) shutdown() {
	r.fdMu.Lock()
	defer r.fdMu.Unlock()
	_ = syscall.Close(r.epfd)
	_ = syscall.Close(r.wakeR)
	_ = syscall.Close(r.wakeW)
}
