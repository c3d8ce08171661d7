package ws

import (
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// A napClock is the ReadCoalesce clock of one period, shared by every
// reader that polls on it, so one wake-up of the process serves them all.
// It ticks from a kernel timer the runtime's poller waits on
// (rawio.NewTicker), so a period means what it says: a runtime timer
// sleeps at least a whole millisecond when the process is otherwise idle
// (the netpoller's epoll timeout), which stretched a 250 µs period four
// times and visibly lengthened a 1 ms one. Its goroutine runs while readers use
// it and stops two ticks after the last one waited.
//
// The readers one tick wakes form a group: each hands its idle hook (the
// writes its burst deferred, ReadMessagesIdle) to the group when it is done
// (leave), and the last one runs them all. Writes to one peer that several
// readers' bursts caused, replies included, so go out in one system call
// per tick, and the peer is woken once. A reader still busy at the next
// tick does not hold the others' writes longer: the tick runs them.
type napClock struct {
	period time.Duration

	mu       sync.Mutex
	tick     chan struct{} // closed at the next tick; nil while stopped
	waiters  int           // readers that took tick since the last tick
	gen      uint64        // ticks so far: group gen is the readers tick gen woke
	running  int           // readers of group gen that have not left it
	deferred []func()      // idle hooks of group gen's readers that left it
	spare    []func()
	none     bool // no kernel timer here: readers sleep instead
}

var napClocks struct {
	sync.Mutex
	m map[time.Duration]*napClock
}

// napClockFor returns the clock of period, creating it.
func napClockFor(period time.Duration) *napClock {
	napClocks.Lock()
	defer napClocks.Unlock()
	k := napClocks.m[period]
	if k == nil {
		if napClocks.m == nil {
			napClocks.m = make(map[time.Duration]*napClock)
		}
		k = &napClock{period: period}
		napClocks.m[period] = k
	}
	return k
}

// wait blocks until the next tick and returns the group that tick formed
// (0: none). Without a kernel timer every reader sleeps to the same
// multiple of the period instead, and the runtime runs those timers
// together.
func (k *napClock) wait() uint64 {
	if ch, gen := k.next(); ch != nil {
		<-ch
		return gen
	}
	time.Sleep(k.period - time.Since(epoch)%k.period)
	return 0
}

// next returns the channel the next tick closes and the group the caller
// joins then, starting the clock if it is stopped, or nil where there is no
// kernel timer.
func (k *napClock) next() (<-chan struct{}, uint64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.none {
		return nil, 0
	}
	if k.tick == nil {
		f, err := rawio.NewTicker(k.period)
		if err != nil {
			k.none = true
			return nil, 0
		}
		k.tick = make(chan struct{})
		go k.run(f)
	}
	k.waiters++
	return k.tick, k.gen + 1
}

// leave takes a reader out of group gen (0: none) with its idle hook
// (nil: none): the hook runs when the group's last reader leaves, at once
// if the caller is the last or the group is over.
func (k *napClock) leave(gen uint64, idle func()) {
	k.mu.Lock()
	if gen == 0 || gen != k.gen || k.running == 0 {
		k.mu.Unlock()
		if idle != nil {
			idle()
		}
		return
	}
	if idle != nil {
		k.deferred = append(k.deferred, idle)
	}
	if k.running--; k.running > 0 {
		k.mu.Unlock()
		return
	}
	run := k.takeLocked()
	k.mu.Unlock()
	k.runAll(run)
}

// takeLocked takes the deferred hooks.
func (k *napClock) takeLocked() []func() {
	run := k.deferred
	k.deferred, k.spare = k.spare[:0], nil
	return run
}

// runAll runs hooks taken by takeLocked and keeps their slice for reuse.
func (k *napClock) runAll(run []func()) {
	for _, f := range run {
		f()
	}
	clear(run)
	k.mu.Lock()
	if k.spare == nil && cap(run) <= 1024 {
		k.spare = run[:0]
	}
	k.mu.Unlock()
}

// run ticks until two ticks in a row find no reader waiting, or the timer
// fails (then readers fall back to sleeping). It reads the timer with a raw
// system call: os.File.Read would enter the runtime's system-call path,
// which wakes the runtime's monitor thread from its deep sleep after every
// idle spell of the process, two more context switches per tick.
func (k *napClock) run(f *os.File) {
	defer f.Close()
	var buf [8]byte
	var rerr error
	read := func(fd uintptr) bool {
		_, rerr = rawio.Read(int(fd), buf[:])
		return rerr != syscall.EAGAIN
	}
	rc, err := f.SyscallConn()
	unused := 0
	for {
		if err == nil {
			if err = rc.Read(read); err == nil {
				err = rerr
			}
		}
		k.mu.Lock()
		// The last group is over: its readers still busy leave it on
		// their own, and what the others deferred runs now.
		var late []func()
		if len(k.deferred) > 0 {
			late = k.takeLocked()
		}
		k.gen++
		k.running = k.waiters
		close(k.tick)
		if k.waiters > 0 {
			unused = 0
		} else {
			unused++
		}
		k.waiters = 0
		stop := err != nil || unused >= 2
		if stop {
			k.tick = nil
			k.none = err != nil
		} else {
			k.tick = make(chan struct{})
		}
		k.mu.Unlock()
		if len(late) > 0 {
			k.runAll(late)
		}
		if stop {
			return
		}
	}
}
