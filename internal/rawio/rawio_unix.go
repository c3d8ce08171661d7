//go:build unix

// Package rawio reads and writes non-blocking sockets with raw system
// calls, without the Go runtime's system-call bookkeeping.
//
// A plain syscall.Read or net.Conn.Write goes through the runtime's
// entersyscall/exitsyscall: the goroutine's P is marked as in a system call
// (so it can be handed to another thread if the call blocks), and, when
// every P had gone idle, the runtime's monitor thread (sysmon) is woken and
// goes back to polling every 20 µs for at least a millisecond. A socket
// server that goes idle and busy again thousands of times a second — a
// proxy, or the hub between two bursts of messages — wakes sysmon on nearly
// every burst: measured on the hub at 20,000 relayed messages/s, sysmon's
// sleeps were 40% of the process's context switches and about 15% of its
// CPU. A read or write on a non-blocking socket never sleeps in the kernel,
// so none of that bookkeeping is needed: these functions use
// syscall.RawSyscall instead.
//
// Only use them on non-blocking descriptors (every socket the net package
// creates is one), from inside a syscall.RawConn callback or on a
// descriptor the caller owns otherwise. Conn wraps a RawConn as an
// io.Reader and io.Writer that waits for readiness (and honours deadlines)
// through the RawConn as net.Conn does.
//
// On Linux, SendRing makes the sends of a whole batch, each to its own
// socket, in one io_uring_enter: a loop that wakes many peers does so
// without being switched out between its writes.
package rawio

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"
)

// Read is read(2) on the non-blocking descriptor fd. It retries EINTR and
// returns syscall.EAGAIN when nothing is there; n is 0 on error.
func Read(fd int, p []byte) (int, error) {
	return call(syscall.SYS_READ, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), 0)
}

// Peek is recv(2) with MSG_PEEK|MSG_DONTWAIT on the socket fd: it copies
// what is buffered into p without consuming it. It retries EINTR and
// returns syscall.EAGAIN when nothing is there; 0 and no error is EOF.
func Peek(fd int, p []byte) (int, error) {
	return recvPeek(fd, p)
}

// Write is write(2) on the non-blocking descriptor fd. It retries EINTR
// and returns syscall.EAGAIN when the socket takes nothing; n is 0 on
// error.
func Write(fd int, p []byte) (int, error) {
	return call(syscall.SYS_WRITE, fd, unsafe.Pointer(unsafe.SliceData(p)), len(p), 0)
}

// call makes the system call trap(fd, p, n, a4, 0, 0) — read, write,
// writev, recvfrom, epoll_pwait — with RawSyscall6, retrying EINTR; n is 0
// on error.
func call(trap uintptr, fd int, p unsafe.Pointer, n int, a4 uintptr) (int, error) {
	for {
		r, _, e := syscall.RawSyscall6(trap, uintptr(fd), uintptr(p), uintptr(n), a4, 0, 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.EINTR:
			continue
		}
		return 0, e
	}
}

// maxIov bounds the elements of one writev(2) call (Linux's IOV_MAX).
const maxIov = 1024

// Writev is writev(2) of bufs (at most 1024 are taken) on the non-blocking
// descriptor fd, with iov as scratch (grown as needed and returned for
// reuse). It retries EINTR and returns syscall.EAGAIN when the socket takes
// nothing.
func Writev(fd int, bufs [][]byte, iov []syscall.Iovec) (int, []syscall.Iovec, error) {
	iov = iov[:0]
	for _, b := range bufs {
		if len(iov) == maxIov {
			break
		}
		if len(b) == 0 {
			continue
		}
		v := syscall.Iovec{Base: unsafe.SliceData(b)}
		v.SetLen(len(b))
		iov = append(iov, v)
	}
	if len(iov) == 0 {
		return 0, iov, nil
	}
	n, err := call(syscall.SYS_WRITEV, fd, unsafe.Pointer(unsafe.SliceData(iov)), len(iov), 0)
	clear(iov) // drop the references to the caller's buffers
	return n, iov, err
}

// Conn reads and writes a socket through its syscall.RawConn with Read,
// Write and Writev: the RawConn waits for readiness in the runtime's
// network poller and applies the deadlines set on the net.Conn, as the
// net.Conn's own methods would. One goroutine may read while another
// writes; concurrent reads (or concurrent writes) are not allowed.
type Conn struct {
	rc syscall.RawConn

	// The RawConn callbacks (allocated once) and their operands.
	rfn, wfn, vfn func(fd uintptr) bool
	rp, wp        []byte
	rn, wn        int
	rerr, werr    error
	bufs          *net.Buffers
	iov           []syscall.Iovec
}

// NewConn returns a Conn over rc, the RawConn of a non-blocking socket.
func NewConn(rc syscall.RawConn) *Conn {
	c := &Conn{rc: rc}
	c.rfn, c.wfn, c.vfn = c.read, c.write, c.writev
	return c
}

// RawConnOf returns nc's RawConn when nc is a socket that offers one
// (*net.TCPConn, *net.UnixConn), else nil.
func RawConnOf(nc net.Conn) syscall.RawConn {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc
}

// Of returns a Conn for nc when nc is a socket that offers a RawConn
// (RawConnOf), else nil.
func Of(nc net.Conn) *Conn {
	if rc := RawConnOf(nc); rc != nil {
		return NewConn(rc)
	}
	return nil
}

// Read reads what the socket has into p, waiting for readability when it
// has nothing. A closed peer gives io.EOF.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rp = p
	err := c.rc.Read(c.rfn)
	n, rerr := c.rn, c.rerr
	c.rp, c.rn, c.rerr = nil, 0, nil
	if err != nil {
		return 0, err
	}
	return n, rerr
}

func (c *Conn) read(fd uintptr) bool {
	n, err := Read(int(fd), c.rp)
	switch {
	case err == syscall.EAGAIN:
		return false
	case err != nil:
		c.rerr = os.NewSyscallError("read", err)
	case n == 0:
		c.rerr = io.EOF
	}
	c.rn = n
	return true
}

// Write writes all of p, waiting for writability as needed.
func (c *Conn) Write(p []byte) (int, error) {
	c.wp, c.wn = p, 0
	err := c.rc.Write(c.wfn)
	n, werr := c.wn, c.werr
	c.wp, c.wn, c.werr = nil, 0, nil
	if err == nil {
		err = werr
	}
	return n, err
}

func (c *Conn) write(fd uintptr) bool {
	for c.wn < len(c.wp) {
		n, err := Write(int(fd), c.wp[c.wn:])
		if err == syscall.EAGAIN {
			return false
		}
		if err != nil {
			c.werr = os.NewSyscallError("write", err)
			return true
		}
		c.wn += n
	}
	return true
}

// WriteBuffers writes every byte of *v with writev(2), waiting for
// writability as needed, and consumes *v as net.Buffers.WriteTo does.
func (c *Conn) WriteBuffers(v *net.Buffers) (int64, error) {
	c.bufs, c.wn = v, 0
	err := c.rc.Write(c.vfn)
	n, werr := c.wn, c.werr
	c.bufs, c.wn, c.werr = nil, 0, nil
	if err == nil {
		err = werr
	}
	return int64(n), err
}

func (c *Conn) writev(fd uintptr) bool {
	for len(*c.bufs) > 0 {
		n, iov, err := Writev(int(fd), *c.bufs, c.iov)
		c.iov = iov
		if err == syscall.EAGAIN {
			return false
		}
		if err != nil {
			c.werr = os.NewSyscallError("writev", err)
			return true
		}
		c.wn += n
		consume(c.bufs, n)
	}
	return true
}

// consume drops the first n bytes of *v (and the buffers emptied).
func consume(v *net.Buffers, n int) {
	for len(*v) > 0 {
		b := (*v)[0]
		if n < len(b) {
			(*v)[0] = b[n:]
			return
		}
		n -= len(b)
		(*v)[0] = nil
		*v = (*v)[1:]
	}
}

// Shutdown shuts both directions of the socket fd down (shutdown(2)): the
// peer sees the end of the stream and a reader blocked on fd wakes up.
func Shutdown(fd int) error { return syscall.Shutdown(fd, syscall.SHUT_RDWR) }
