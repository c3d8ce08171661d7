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
type napClock struct {
	period time.Duration

	mu     sync.Mutex
	tick   chan struct{} // closed at the next tick; nil while stopped
	waited bool          // a reader took tick since the last tick
	none   bool          // no kernel timer here: readers sleep instead
}

var napClocks struct {
	sync.Mutex
	m map[time.Duration]*napClock
}

// napWait blocks until the next tick of the period's clock. Without a
// kernel timer every reader sleeps to the same multiple of the period
// instead, and the runtime runs those timers together.
func napWait(period time.Duration) {
	napClocks.Lock()
	k := napClocks.m[period]
	if k == nil {
		if napClocks.m == nil {
			napClocks.m = make(map[time.Duration]*napClock)
		}
		k = &napClock{period: period}
		napClocks.m[period] = k
	}
	napClocks.Unlock()
	if ch := k.next(); ch != nil {
		<-ch
		return
	}
	time.Sleep(period - time.Since(epoch)%period)
}

// next returns the channel the next tick closes, starting the clock if it
// is stopped, or nil where there is no kernel timer.
func (k *napClock) next() <-chan struct{} {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.none {
		return nil
	}
	if k.tick == nil {
		f, err := rawio.NewTicker(k.period)
		if err != nil {
			k.none = true
			return nil
		}
		k.tick = make(chan struct{})
		go k.run(f)
	}
	k.waited = true
	return k.tick
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
		close(k.tick)
		if k.waited {
			unused = 0
		} else {
			unused++
		}
		if err != nil || unused >= 2 {
			k.tick = nil
			k.none = err != nil
			k.mu.Unlock()
			return
		}
		k.waited = false
		k.tick = make(chan struct{})
		k.mu.Unlock()
	}
}
