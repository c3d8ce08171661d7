package client

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// wait bounds anything a test waits for: a deadlock guard, not a timing
// assertion.
const wait = 15 * time.Second

// switchboardBin is the binary the hub tests run (built once).
func switchboardBin(tb testing.TB) string { return testutil.SwitchboardBinary(tb) }

// freePort returns a loopback port that was free a moment ago.
func freePort(tb testing.TB) int { return testutil.FreePort(tb) }

// hubProc is a Switchboard process on loopback.
type hubProc struct {
	tb    testing.TB
	Port  int
	URL   string
	Admin string
	args  []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *lineLog
}

// startHub runs Switchboard on port (0: a free one) with extra flags.
func startHub(tb testing.TB, port int, extra ...string) *hubProc {
	tb.Helper()
	if port == 0 {
		port = freePort(tb)
	}
	h := &hubProc{tb: tb, Port: port, URL: "http://127.0.0.1:" + strconv.Itoa(port), args: extra}
	h.Start()
	tb.Cleanup(h.Kill)
	return h
}

// Start (re)starts the process on the same port and waits until it listens.
func (h *hubProc) Start() {
	tb := h.tb
	tb.Helper()
	args := append([]string{"--port", strconv.Itoa(h.Port), "--admin", "127.0.0.1:0",
		"--shutdown-drain-delay", "0", "--log-level", "debug"}, h.args...)
	cmd := exec.Command(switchboardBin(tb), args...)
	cmd.Env = append(os.Environ(), "GOTRACEBACK=all")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	l := newLineLog()
	exited := make(chan struct{})
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			l.add(line)
			if strings.Contains(line, `msg=listening`) {
				select {
				case ready <- line:
				default:
				}
			}
		}
		_ = cmd.Wait()
		close(exited)
	}()
	h.mu.Lock()
	h.cmd, h.exited, h.log = cmd, exited, l
	h.mu.Unlock()
	select {
	case line := <-ready:
		if i := strings.Index(line, "admin="); i >= 0 {
			h.Admin = strings.Fields(line[i+len("admin="):])[0]
		}
	case <-exited:
		tb.Fatalf("switchboard exited at start:\n%s", l.String())
	case <-time.After(wait):
		tb.Fatalf("switchboard did not start:\n%s", l.String())
	}
}

// Kill sends SIGKILL and waits for the process to exit. Idempotent.
func (h *hubProc) Kill() {
	h.mu.Lock()
	cmd, exited := h.cmd, h.exited
	h.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	if h.tb.Failed() {
		h.tb.Logf("switchboard :%d log (tail):\n%s", h.Port, h.log.Tail(60))
	}
}

// Waitlog waits for a log line containing all of subs.
func (h *hubProc) WaitLog(subs ...string) string {
	h.tb.Helper()
	h.mu.Lock()
	l := h.log
	h.mu.Unlock()
	line, ok := l.wait(wait, subs...)
	if !ok {
		h.tb.Fatalf("switchboard log has no line with %q:\n%s", subs, l.Tail(40))
	}
	return line
}

// lineLog collects a process's log lines and lets tests wait for one.
type lineLog struct {
	mu      sync.Mutex
	lines   []string
	changed chan struct{}
}

func newLineLog() *lineLog { return &lineLog{changed: make(chan struct{})} }

func (l *lineLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	close(l.changed)
	l.changed = make(chan struct{})
	l.mu.Unlock()
}

func (l *lineLog) wait(d time.Duration, subs ...string) (string, bool) {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	seen := 0
	for {
		l.mu.Lock()
		lines, ch := l.lines, l.changed
		l.mu.Unlock()
		for ; seen < len(lines); seen++ {
			ok := true
			for _, s := range subs {
				if !strings.Contains(lines[seen], s) {
					ok = false
					break
				}
			}
			if ok {
				return lines[seen], true
			}
		}
		select {
		case <-ch:
		case <-deadline.C:
			return "", false
		}
	}
}

func (l *lineLog) String() string { return l.Tail(1 << 30) }

func (l *lineLog) Tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	lines := l.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// backendURL returns a loopback URL nothing listens on, for backends that
// only use the channel (the hub never dials them in these tests).
func backendURL(tb testing.TB) string {
	tb.Helper()
	return "http://127.0.0.1:" + strconv.Itoa(freePort(tb))
}

// recorder collects what a client's handlers see.
type recorder struct {
	msgs   chan Message
	joined chan Server
	left   chan Server
	lost   chan [2]string
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan Message, 4096), joined: make(chan Server, 64),
		left: make(chan Server, 64), lost: make(chan [2]string, 64)}
}

func (r *recorder) opts() []Option {
	return []Option{
		WithOnMessage(func(m Message) { r.msgs <- m }),
		WithOnServerJoined(func(s Server) { r.joined <- s }),
		WithOnServerLeft(func(s Server) { r.left <- s }),
		WithNameLost(func(n, h string) { r.lost <- [2]string{n, h} }),
	}
}

func (r *recorder) next(tb testing.TB) Message {
	tb.Helper()
	select {
	case m := <-r.msgs:
		return m
	case <-time.After(wait):
		tb.Fatal("no message")
	}
	return Message{}
}

// dial connects a client for a test; closed at cleanup.
func dial(tb testing.TB, hubs []string, opts ...Option) *Client {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	all := append([]Option{WithBackoff(10*time.Millisecond, 100*time.Millisecond)}, opts...)
	c, err := Dial(ctx, hubs, all...)
	if err != nil {
		tb.Fatalf("dial: %v", err)
	}
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

func tctx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	tb.Cleanup(cancel)
	return ctx
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

// waitChan waits for a value on ch.
func waitChan[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testutil.Recv(tb, ch, what, wait)
}

func itoa(n int) string { return strconv.Itoa(n) }
