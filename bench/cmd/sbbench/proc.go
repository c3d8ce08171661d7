package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// clkTck is USER_HZ, the unit of utime/stime in /proc/PID/stat (100 on Linux).
const clkTck = 100

// Proc is a child process started by the harness: its own process group,
// optionally pinned with taskset, stdout/stderr captured to a log file.
// Stop kills the whole group. Safe for concurrent use after Start.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  string // path of the combined stdout/stderr log (when Lines is nil)

	// Lines receives stdout lines when the process was started with
	// captureStdout; it is closed when stdout ends.
	Lines chan string
	// Stdin is the process's stdin when started with ProcSpec.Stdin.
	Stdin io.WriteCloser

	stopOnce sync.Once
	done     chan struct{}
	waitErr  error
}

// ProcSpec describes one process to start.
type ProcSpec struct {
	Name    string
	CPUs    string   // taskset CPU list ("0", "1", "0-1"); empty: not pinned
	Env     []string // extra "K=V"
	Dir     string
	Argv    []string
	Capture bool // deliver stdout lines on Proc.Lines (stderr still goes to the log)
	Stdin   bool // give the process a stdin pipe (Proc.Stdin)
}

// procSet tracks every process the harness started so that they are all
// killed on exit, even on a signal.
type procSet struct {
	mu    sync.Mutex
	procs []*Proc // guarded by mu
}

var children procSet

func (s *procSet) add(p *Proc) {
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
}

// stopAll kills every live child process group.
func (s *procSet) stopAll() {
	s.mu.Lock()
	ps := append([]*Proc(nil), s.procs...)
	s.mu.Unlock()
	for _, p := range ps {
		p.Stop()
	}
}

// StartProc starts spec. logDir receives <name>.log.
func StartProc(spec ProcSpec, logDir string) (*Proc, error) {
	argv := spec.Argv
	if spec.CPUs != "" {
		argv = append([]string{"taskset", "-c", spec.CPUs}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = spec.Dir
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &Proc{Name: spec.Name, Cmd: cmd, done: make(chan struct{})}
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return nil, err
	}
	p.Log = filepath.Join(logDir, sanitize(spec.Name)+".log")
	for i := 2; ; i++ { // a restarted process keeps its earlier log
		if _, err := os.Stat(p.Log); err != nil {
			break
		}
		p.Log = filepath.Join(logDir, fmt.Sprintf("%s.%d.log", sanitize(spec.Name), i))
	}
	lf, err := os.Create(p.Log)
	if err != nil {
		return nil, err
	}
	cmd.Stderr = lf
	var stdout io.ReadCloser
	if spec.Capture {
		stdout, err = cmd.StdoutPipe()
		if err != nil {
			lf.Close()
			return nil, err
		}
	} else {
		cmd.Stdout = lf
	}
	if spec.Stdin {
		if p.Stdin, err = cmd.StdinPipe(); err != nil {
			lf.Close()
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	children.add(p)
	scanned := make(chan struct{})
	if !spec.Capture {
		close(scanned)
	} else {
		p.Lines = make(chan string, 1024)
		go func() {
			sc := bufio.NewScanner(stdout)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				line := sc.Text()
				fmt.Fprintln(lf, line)
				select {
				case p.Lines <- line:
				default: // nobody is listening: the log keeps it
				}
			}
			io.Copy(io.Discard, stdout)
			close(p.Lines)
			close(scanned)
		}()
	}
	go func() {
		// Wait closes the stdout pipe: read it to the end first.
		<-scanned
		p.waitErr = cmd.Wait()
		lf.Close()
		close(p.done)
	}()
	return p, nil
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == ' ' || r == ':' {
			return '_'
		}
		return r
	}, s)
}

// ExitCPU returns user+system CPU seconds of an exited process (from its
// rusage: exact, even for a short-lived load generator), or -1 if it has not exited.
func (p *Proc) ExitCPU() float64 {
	select {
	case <-p.done:
	default:
		return -1
	}
	if p.Cmd.ProcessState == nil {
		return -1
	}
	return (p.Cmd.ProcessState.UserTime() + p.Cmd.ProcessState.SystemTime()).Seconds()
}

// Wait waits for the process to exit or ctx to end (then it is stopped).
func (p *Proc) Wait(ctx context.Context) error {
	select {
	case <-p.done:
		return p.waitErr
	case <-ctx.Done():
		p.Stop()
		return ctx.Err()
	}
}

// PID returns the pid of the real program (taskset execs it, so it is the same pid).
func (p *Proc) PID() int { return p.Cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM to the process group, then SIGKILL after 3 s. Idempotent.
func (p *Proc) Stop() {
	p.stopOnce.Do(func() {
		pgid := p.Cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(3 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// Anything left in the group (a daemonised child) goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// WaitLine waits for a stdout line with the given prefix and returns it.
func (p *Proc) WaitLine(ctx context.Context, prefix string) (string, error) {
	for {
		select {
		case l, ok := <-p.Lines:
			if !ok {
				return "", fmt.Errorf("%s exited before printing %q (see %s)", p.Name, prefix, p.Log)
			}
			if strings.HasPrefix(l, prefix) {
				return l, nil
			}
		case <-ctx.Done():
			return "", fmt.Errorf("%s: waiting for %q: %w (see %s)", p.Name, prefix, ctx.Err(), p.Log)
		}
	}
}

// ProcStat is a sample of a process tree's resources.
type ProcStat struct {
	CPUTicks   int64 // utime+stime of every process of the tree, in clock ticks
	RSSKiB     int64 // sum of VmRSS
	FDs        int   // sum of open descriptors
	Threads    int   // sum of Threads
	Processes  int
	SampledAt  time.Time
	MissingPID bool
}

// CPUSeconds converts ticks.
func (s ProcStat) CPUSeconds() float64 { return float64(s.CPUTicks) / clkTck }

// SampleTree samples pid and all its descendants (nginx workers, etc.).
func SampleTree(pid int) ProcStat {
	st := ProcStat{SampledAt: time.Now()}
	pids := treePIDs(pid)
	if len(pids) == 0 {
		st.MissingPID = true
	}
	for _, p := range pids {
		if t, err := cpuTicks(p); err == nil {
			st.CPUTicks += t
		}
		rss, thr := statusFields(p)
		st.RSSKiB += rss
		st.Threads += thr
		st.FDs += countFDs(p)
		st.Processes++
	}
	return st
}

// treePIDs returns pid followed by its descendants.
func treePIDs(root int) []int {
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", root)); err != nil {
		return nil
	}
	parent := map[int]int{}
	eachProcStat(func(pid int, f []string) {
		if len(f) > 1 {
			pp, _ := strconv.Atoi(f[1])
			parent[pid] = pp
		}
	})
	out := []int{root}
	for i := 0; i < len(out); i++ {
		for pid, pp := range parent {
			if pp == out[i] {
				out = append(out, pid)
			}
		}
	}
	return out
}

// eachProcStat calls fn with the statFields of every process's
// /proc/PID/stat (processes gone meanwhile are skipped).
func eachProcStat(fn func(pid int, f []string)) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if b, err := os.ReadFile("/proc/" + e.Name() + "/stat"); err == nil {
			fn(pid, statFields(string(b)))
		}
	}
}

// statFields returns the fields of /proc/PID/stat after the command name,
// so index 0 is "state" (field 3), 1 is ppid (field 4), 11 utime (14), 12 stime (15).
func statFields(s string) []string {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// cpuTicks returns utime+stime of one process.
func cpuTicks(pid int) (int64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	f := statFields(string(b))
	if len(f) < 13 {
		return 0, errors.New("short stat")
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s, nil
}

func statusFields(pid int) (rssKiB int64, threads int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "VmRSS:"):
			f := strings.Fields(l)
			if len(f) >= 2 {
				rssKiB, _ = strconv.ParseInt(f[1], 10, 64)
			}
		case strings.HasPrefix(l, "Threads:"):
			f := strings.Fields(l)
			if len(f) >= 2 {
				threads, _ = strconv.Atoi(f[1])
			}
		}
	}
	return rssKiB, threads
}

func countFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(ents)
}

// CPUMeter measures the CPU share of a set of processes over a window.
type CPUMeter struct {
	pids  []int
	start []int64
	t0    time.Time
}

// StartCPU starts a meter over pids (each with its descendants).
func StartCPU(pids ...int) *CPUMeter {
	m := &CPUMeter{pids: pids, t0: time.Now()}
	for _, p := range pids {
		m.start = append(m.start, SampleTree(p).CPUTicks)
	}
	return m
}

// Stop returns CPU seconds used and the busy fraction (CPU seconds / wall
// seconds, so 1.0 means one core fully busy).
func (m *CPUMeter) Stop() (cpuSec, busy float64) {
	wall := time.Since(m.t0).Seconds()
	var ticks int64
	for i, p := range m.pids {
		st := SampleTree(p)
		if st.MissingPID {
			return math.NaN(), math.NaN() // exited before the window closed
		}
		ticks += st.CPUTicks - m.start[i]
	}
	cpuSec = float64(ticks) / clkTck
	if wall > 0 {
		busy = cpuSec / wall
	}
	return cpuSec, busy
}

// waitHTTP waits until GET url answers with status 2xx/3xx/4xx (the
// listener is up and serving), bounded by timeout.
func waitHTTP(ctx context.Context, url string, timeout time.Duration, p *Proc) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last := "no answer"
	for {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		resp, err := c.Do(req)
		if err == nil {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
			last = "status " + resp.Status
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last: %s)", url, ctx.Err(), last)
		case <-doneOrNil(p):
			return fmt.Errorf("%s exited while waiting for %s (see %s)", p.Name, url, p.Log)
		case <-tick.C:
		}
	}
}

// waitTCP waits until addr accepts connections.
func waitTCP(ctx context.Context, addr string, timeout time.Duration, p *Proc) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", addr, ctx.Err())
		case <-doneOrNil(p):
			return fmt.Errorf("%s exited while waiting for %s (see %s)", p.Name, addr, p.Log)
		case <-tick.C:
		}
	}
}

func doneOrNil(p *Proc) <-chan struct{} {
	if p == nil {
		return nil
	}
	return p.done
}

// portFree reports whether addr can be listened on now.
func portFree(addr string) bool {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
