package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// ForeignMeter measures CPU used on the machine by processes that are not
// this harness or its children (other test suites, builds): the noise that
// skews a benchmark on a shared machine. Busy jiffies come from /proc/stat,
// ours from the harness's process tree.
type ForeignMeter struct {
	machine0, ours0 int64
	t0              time.Time
}

// machineBusyTicks returns busy clock ticks of all CPUs (everything but idle and iowait).
func machineBusyTicks() int64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var busy int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 7 { // guest time is already counted in user
			break
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		busy += n
	}
	return busy
}

// StartForeign starts a meter.
func StartForeign() *ForeignMeter {
	return &ForeignMeter{machine0: machineBusyTicks(), ours0: ourTicks(), t0: time.Now()}
}

// Cores returns the average number of CPUs that foreign processes kept busy
// since Start (0 on a quiet machine). Children that exited in the meantime
// are counted through our cutime/cstime once reaped.
func (m *ForeignMeter) Cores() float64 {
	wall := time.Since(m.t0).Seconds()
	if wall <= 0 {
		return 0
	}
	machine := machineBusyTicks() - m.machine0
	ours := ourTicks() - m.ours0
	f := float64(machine-ours) / clkTck / wall
	if f < 0 {
		f = 0
	}
	return f
}

// ourTicks is the CPU of this process, of its reaped children
// (cutime+cstime) and of its live descendants.
func ourTicks() int64 {
	self := os.Getpid()
	var t int64
	if b, err := os.ReadFile("/proc/self/stat"); err == nil {
		f := statFields(string(b))
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			if i < len(f) {
				n, _ := strconv.ParseInt(f[i], 10, 64)
				t += n
			}
		}
	}
	for _, p := range treePIDs(self)[1:] {
		if n, err := cpuTicks(p); err == nil {
			t += n
		}
	}
	return t
}
