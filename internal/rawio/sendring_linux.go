//go:build linux && !(mips || mipsle || mips64 || mips64le)

package rawio

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// SendRing sends many buffers, each to its own socket, with one system
// call: an io_uring whose entries are non-blocking sends. A loop that has
// a batch of writes for several peers makes them all before any peer runs.
// With one write(2) per peer, the kernel may switch to the first peer it
// woke as soon as that write returns (a woken peer often preempts its
// waker on the waker's CPU), and the rest of the batch waits for the
// writer's next turn. Inside one io_uring_enter no such switch happens on
// kernels that do not preempt in kernel mode (the common default), so
// every peer is woken by the time the loop runs again.
//
// Each send carries MSG_DONTWAIT, so io_uring never parks it: a socket
// that cannot take the whole buffer completes at once with what it took,
// or with EAGAIN. A SendRing belongs to one goroutine.
type SendRing struct {
	fd      int
	rings   []byte // the submission and completion rings (one mapping)
	entries []byte // the submission queue entries
	sqTail  *uint32
	sqMask  uint32
	sqArray unsafe.Pointer
	sqes    unsafe.Pointer
	cqHead  *uint32
	cqTail  *uint32
	cqMask  uint32
	cqes    unsafe.Pointer

	queued int
	res    []int32 // the last Submit's results, in queue order
	broken bool
}

// ErrRingBroken is the result of a send whose outcome is unknown, after
// io_uring_enter failed; the ring is unusable from then on.
var ErrRingBroken = errors.New("rawio: send ring failed")

// The system calls and constants of io_uring used here (linux/io_uring.h).
// io_uring's system-call numbers are the same on every architecture but
// MIPS (which this file does not build for).
const (
	sysIOUringSetup = 425
	sysIOUringEnter = 426

	ioringSetupSubmitAll = 1 << 7
	ioringFeatSingleMmap = 1 << 0
	ioringOffSQRing      = 0
	ioringOffCQRing      = 0x8000000
	ioringOffSQEs        = 0x10000000
	ioringOpSend         = 26

	sqeSize = 64
	cqeSize = 16
)

// uringParams is struct io_uring_params; sqOff and cqOff are struct
// io_sqring_offsets (head, tail, ring_mask, ring_entries, flags, dropped,
// array, …) and struct io_cqring_offsets (head, tail, ring_mask,
// ring_entries, overflow, cqes, …).
type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFD uint32
	resv                                                                   [3]uint32
	sqOff                                                                  [10]uint32
	cqOff                                                                  [10]uint32
}

// uringSQE is struct io_uring_sqe, as a send uses it.
type uringSQE struct {
	opcode   uint8
	flags    uint8
	ioprio   uint16
	fd       int32
	off      uint64
	addr     uint64
	len      uint32
	msgFlags uint32
	userData uint64
	bufIndex uint16
	pers     uint16
	spliceFD int32
	addr3    uint64
	pad      uint64
}

// uringCQE is struct io_uring_cqe.
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

// NewSendRing returns a ring for up to n sends per Submit. It fails where
// io_uring is missing (kernels before 5.18 lack a flag it needs) or
// forbidden (the kernel.io_uring_disabled sysctl, seccomp filters such as
// container runtimes' defaults); the caller then writes one socket at a
// time.
func NewSendRing(n int) (*SendRing, error) {
	if n <= 0 || n > 4096 {
		return nil, syscall.EINVAL
	}
	p := uringParams{flags: ioringSetupSubmitAll}
	fd, _, e := syscall.RawSyscall(sysIOUringSetup, uintptr(n), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, os.NewSyscallError("io_uring_setup", e)
	}
	r := &SendRing{fd: int(fd)}
	fail := func(err error) (*SendRing, error) {
		r.unmap()
		syscall.Close(r.fd)
		return nil, err
	}
	syscall.CloseOnExec(r.fd)
	if p.features&ioringFeatSingleMmap == 0 {
		return fail(errors.New("rawio: io_uring without single mmap (kernel before 5.4)"))
	}
	size := max(p.sqOff[6]+p.sqEntries*4, p.cqOff[5]+p.cqEntries*cqeSize)
	var err error
	if r.rings, err = syscall.Mmap(r.fd, ioringOffSQRing, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		return fail(os.NewSyscallError("mmap", err))
	}
	if r.entries, err = syscall.Mmap(r.fd, ioringOffSQEs, int(p.sqEntries*sqeSize), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		return fail(os.NewSyscallError("mmap", err))
	}
	base := unsafe.Pointer(unsafe.SliceData(r.rings))
	r.sqTail = (*uint32)(unsafe.Add(base, p.sqOff[1]))
	r.sqMask = *(*uint32)(unsafe.Add(base, p.sqOff[2]))
	r.sqArray = unsafe.Add(base, p.sqOff[6])
	r.sqes = unsafe.Pointer(unsafe.SliceData(r.entries))
	r.cqHead = (*uint32)(unsafe.Add(base, p.cqOff[0]))
	r.cqTail = (*uint32)(unsafe.Add(base, p.cqOff[1]))
	r.cqMask = *(*uint32)(unsafe.Add(base, p.cqOff[2]))
	r.cqes = unsafe.Add(base, p.cqOff[5])
	r.res = make([]int32, n) // the kernel may round the ring up; n is what was asked
	return r, nil
}

// Len is how many sends are queued for the next Submit.
func (r *SendRing) Len() int { return r.queued }

// Cap is how many sends one Submit takes.
func (r *SendRing) Cap() int { return len(r.res) }

// Send queues a send of p to the socket fd and returns its index for
// Result. p must stay unchanged, and fd open, until Submit returns. It
// panics when Len() == Cap().
func (r *SendRing) Send(fd int, p []byte) int {
	i := r.queued
	if i == len(r.res) {
		panic("rawio: SendRing full")
	}
	idx := (atomic.LoadUint32(r.sqTail) + uint32(i)) & r.sqMask
	*(*uringSQE)(unsafe.Add(r.sqes, uintptr(idx)*sqeSize)) = uringSQE{
		opcode:   ioringOpSend,
		fd:       int32(fd),
		addr:     uint64(uintptr(unsafe.Pointer(unsafe.SliceData(p)))),
		len:      uint32(len(p)),
		msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL,
		userData: uint64(i),
	}
	*(*uint32)(unsafe.Add(r.sqArray, uintptr(idx)*4)) = idx
	r.queued++
	return i
}

// Submit makes every queued send in one io_uring_enter, without waiting
// for any (none waits: each is non-blocking), and collects their results
// for Result. The queue is empty afterwards. An error means io_uring
// itself failed; the sends without a result then report ErrRingBroken,
// and so does every later send.
func (r *SendRing) Submit() error {
	n := r.queued
	r.queued = 0
	if n == 0 {
		return nil
	}
	for i := range n {
		r.res[i] = errRingBroken // until its completion is seen
	}
	if r.broken {
		return ErrRingBroken
	}
	atomic.StoreUint32(r.sqTail, atomic.LoadUint32(r.sqTail)+uint32(n))
	var err error
	for {
		_, _, e := syscall.RawSyscall6(sysIOUringEnter, uintptr(r.fd), uintptr(n), 0, 0, 0, 0)
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			err = os.NewSyscallError("io_uring_enter", e)
		}
		break
	}
	seen := 0
	head, tail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
	for ; head != tail; head++ {
		c := (*uringCQE)(unsafe.Add(r.cqes, uintptr(head&r.cqMask)*cqeSize))
		if c.userData < uint64(n) {
			r.res[c.userData] = c.res
			seen++
		}
	}
	atomic.StoreUint32(r.cqHead, head)
	if err == nil && seen < n {
		err = errors.New("rawio: io_uring left sends in flight")
	}
	if err != nil {
		// Entries not consumed, or still in flight, must never be sent
		// later from buffers the caller reuses: the ring is done.
		r.broken = true
	}
	return err
}

// errRingBroken marks, in res, a send whose outcome is unknown.
const errRingBroken = -1 << 30

// Result is the outcome of the send with index i of the last Submit: the
// bytes the socket took (fewer than were queued when its buffer filled),
// or the error (syscall.EAGAIN when it took nothing, ErrRingBroken).
func (r *SendRing) Result(i int) (int, error) {
	switch v := r.res[i]; {
	case v >= 0:
		return int(v), nil
	case v == errRingBroken:
		return 0, ErrRingBroken
	default:
		return 0, syscall.Errno(-v)
	}
}

// Close releases the ring. It must not be used afterwards.
func (r *SendRing) Close() error {
	r.unmap()
	return syscall.Close(r.fd)
}

func (r *SendRing) unmap() {
	if r.entries != nil {
		_ = syscall.Munmap(r.entries)
		r.entries = nil
	}
	if r.rings != nil {
		_ = syscall.Munmap(r.rings)
		r.rings = nil
	}
}
