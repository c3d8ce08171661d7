// Package testutil holds helpers shared by Switchboard's tests: the
// repository root, a runner for the Node.js interop scripts, and the
// goroutine leak check every goroutine-starting package runs in TestMain.
package testutil

import (
	"bufio"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// VerifyNoLeaks runs the package's tests and fails the run when goroutines
// are left behind. Call it from TestMain.
func VerifyNoLeaks(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.Cleanup(func(int) { RemoveSwitchboardBinary() }),
		// net/http's keep-alive machinery of httptest clients winds down asynchronously.
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
	)
}

// RepoRoot returns the repository's root directory (where go.mod is).
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// Node is a running Node.js script whose stdout is read line by line.
type Node struct {
	Cmd   *exec.Cmd
	Lines chan string // stdout lines; closed when the process's stdout ends
	mu    sync.Mutex
	err   strings.Builder
}

// StartNode runs `node script args...` (script relative to the repo root)
// with extra environment env ("K=V"). It needs node_modules at the repo root
// (`npm ci`, done by `make test`). The process is killed at cleanup.
func StartNode(tb testing.TB, script string, env []string, args ...string) *Node {
	tb.Helper()
	root := RepoRoot(tb)
	if _, err := os.Stat(filepath.Join(root, "node_modules", "socket.io-client")); err != nil {
		tb.Fatalf("node_modules missing: run `make deps` (npm ci) first: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(root, script)}, args...)...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = 2 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	n := &Node{Cmd: cmd, Lines: make(chan string, 1024)}
	cmd.Stderr = writerFunc(func(p []byte) (int, error) {
		n.mu.Lock()
		defer n.mu.Unlock()
		if n.err.Len() < 1<<16 {
			n.err.Write(p)
		}
		return len(p), nil
	})
	if err := cmd.Start(); err != nil {
		cancel()
		tb.Fatalf("start node %s: %v", script, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(n.Lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			n.Lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	tb.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
		if tb.Failed() {
			tb.Logf("node %s stderr:\n%s", script, n.Stderr())
		}
	})
	return n
}

// Stderr returns what the script wrote to stderr so far (first 64 KiB).
func (n *Node) Stderr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err.String()
}

// Expect waits up to d for a stdout line with the given prefix and returns it.
// Other lines are skipped.
func (n *Node) Expect(tb testing.TB, prefix string, d time.Duration) string {
	tb.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case l, ok := <-n.Lines:
			if !ok {
				tb.Fatalf("node exited before printing %q; stderr:\n%s", prefix, n.Stderr())
			}
			if strings.HasPrefix(l, prefix) {
				return l
			}
		case <-t.C:
			tb.Fatalf("timeout waiting for node line %q; stderr:\n%s", prefix, n.Stderr())
		}
	}
}

type writerFunc func(p []byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Recv waits up to d (a deadlock guard, not a timing assertion) for a value
// on ch, and fails the test naming what it waited for.
func Recv[T any](tb testing.TB, ch <-chan T, what string, d time.Duration) T {
	tb.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case v := <-ch:
		return v
	case <-t.C:
		tb.Fatalf("timeout (%v) waiting for %s", d, what)
		panic("unreachable")
	}
}
