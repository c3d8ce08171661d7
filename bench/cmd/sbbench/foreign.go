package main

import (
	"os"
	"strconv"
	"time"
)

// ForeignMeter measures CPU used on the machine by processes that are not
// this harness or its children (other test suites, builds): the noise that
// skews a benchmark on a shared machine.
//
// It adds up the other processes' own CPU times from /proc/PID/stat. The
// machine-wide counters of /proc/stat would be simpler, but on a kernel
// that samples CPU time at each scheduler tick they misjudge a process
// that wakes on a clock of its own (a coalescing server polls every 500 µs,
// and ticks catch it running more often than it is): the difference from
// our processes' times, which the kernel scales to their exact run time,
// then showed as noise that was not there.
type ForeignMeter struct {
	t0    time.Time
	ours0 map[int]bool
	procs map[int]procTime
}

// procTime is one process's CPU so far: its own (utime+stime) and its
// reaped children's (cutime+cstime), in clock ticks; start tells a reused
// PID apart.
type procTime struct {
	start, ticks int64
}

// StartForeign starts a meter.
func StartForeign() *ForeignMeter {
	return &ForeignMeter{t0: time.Now(), ours0: ourPIDs(), procs: procTimes()}
}

// Cores returns the average number of CPUs that foreign processes kept busy
// since Start (0 on a quiet machine).
func (m *ForeignMeter) Cores() float64 {
	wall := time.Since(m.t0).Seconds()
	if wall <= 0 {
		return 0
	}
	ours := ourPIDs()
	for pid := range m.ours0 {
		ours[pid] = true
	}
	return max(0, float64(foreignTicks(m.procs, procTimes(), ours))/clkTck/wall)
}

// foreignTicks is the CPU that processes outside ours used between two
// readings of procTimes.
func foreignTicks(before, after map[int]procTime, ours map[int]bool) int64 {
	var ticks int64
	for pid, p := range after {
		if ours[pid] {
			continue
		}
		if q, ok := before[pid]; ok && q.start == p.start {
			ticks += p.ticks - q.ticks
		} else {
			ticks += p.ticks // started since
		}
	}
	for pid, q := range before {
		if ours[pid] {
			continue
		}
		if p, ok := after[pid]; !ok || p.start != q.start {
			// Ended: its parent's children's times took all of it,
			// including what it had used before.
			ticks -= q.ticks
		}
	}
	return ticks
}

// ourPIDs is this process and its live descendants.
func ourPIDs() map[int]bool {
	ours := map[int]bool{}
	for _, pid := range treePIDs(os.Getpid()) {
		ours[pid] = true
	}
	return ours
}

// procTimes reads every process's CPU times.
func procTimes() map[int]procTime {
	out := make(map[int]procTime)
	eachProcStat(func(pid int, f []string) {
		if len(f) < 20 {
			return
		}
		var p procTime
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			n, _ := strconv.ParseInt(f[i], 10, 64)
			p.ticks += n
		}
		p.start, _ = strconv.ParseInt(f[19], 10, 64)
		out[pid] = p
	})
	return out
}
