package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

const wait = 20 * time.Second

// TestBinary builds cmd/switchboard once into a temporary directory and
// runs the binary's tests against it.
func TestBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "switchboard")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	for _, tc := range binaryTests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f(t, bin)
		})
	}
}

type binaryTest struct {
	name string
	f    func(t *testing.T, bin string)
}

// binaryTests run against one build of the binary; files for one system
// add their own in init.
var binaryTests = []binaryTest{
	{"help lists every option", testHelpListsEveryOption},
	{"bad config exits 2 with every problem", testBadConfigExits2WithEveryProblem},
	{"unknown flag exits 2", testUnknownFlagExits2},
	{"SIGTERM exits cleanly", testSIGTERMExitsCleanly},
}

// command runs the binary with a clean environment (no IP/PORT/SWITCHBOARD_*
// from the machine) plus env.
func command(ctx context.Context, t *testing.T, bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, env...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

func testHelpListsEveryOption(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	out, err := command(ctx, t, bin, nil, "--help").Output()
	if err != nil {
		t.Fatalf("--help: %v", err)
	}
	help := string(out)
	if help != config.Usage() {
		t.Error("--help output differs from config.Usage()")
	}
	// Every flag, variable and key of the field table appears (the table
	// itself is checked against Config's fields in package config).
	fs := strings.Fields(config.Markdown())
	for _, f := range fs {
		f = strings.Trim(f, "`|,")
		if len(f) > 3 && (strings.HasPrefix(f, "--") && f[2] >= 'a' && f[2] <= 'z' || strings.HasPrefix(f, "SWITCHBOARD_")) {
			if !strings.Contains(help, f) {
				t.Errorf("--help lacks %s", f)
			}
		}
	}
	for _, s := range []string{"--config", "--ip", "--port", "--backend", "--token", "--admin", "--log-level", "--log-format", "--tracker-only", "IP", "PORT"} {
		if !strings.Contains(help, s) {
			t.Errorf("--help lacks %s", s)
		}
	}
}

func testBadConfigExits2WithEveryProblem(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	file := filepath.Join(t.TempDir(), "sb.yaml")
	if err := os.WriteFile(file, []byte("tracker:\n  path: /list\npresence:\n  grace: -1s\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := command(ctx, t, bin, []string{"PORT=99999", "SWITCHBOARD_LOG_LEVEL=loud"},
		"--config", file, "--backend", "http://{ip}:{port}", "--backend", "ftp://127.0.0.1:21", "--proxy-trusted-proxies", "10.0.0.0/99")
	cmd.Stderr = &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2; stderr:\n%s", err, stderr.String())
	}
	for _, want := range []string{"listen.port", "log.level", "unexpanded template", "scheme must be http or https",
		"10.0.0.0/99", "presence.grace", `tracker.path: "/list" clashes with control.path`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
		}
	}
	if n := strings.Count(stderr.String(), "\n  - "); n != 7 {
		t.Errorf("%d problems listed, want 7:\n%s", n, stderr.String())
	}
}

func testUnknownFlagExits2(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	err := command(ctx, t, bin, nil, "--no-such-flag").Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 2 {
		t.Fatalf("exit = %v, want status 2", err)
	}
}

// testSIGTERMExitsCleanly runs the binary on free ports, checks it serves,
// sends SIGTERM and expects status 0 after a logged shutdown.
func testSIGTERMExitsCleanly(t *testing.T, bin string) {
	ctx, cancel := context.WithTimeout(t.Context(), wait)
	defer cancel()
	args := []string{"--port", "0", "--admin", "127.0.0.1:0", "--log-format", "json"}
	if runtime.GOOS == "linux" {
		args = append(args, "--nice", "3") // upwards: no privilege needed
	}
	cmd := command(ctx, t, bin, []string{"SWITCHBOARD_SHUTDOWN_DRAIN_DELAY=10ms"}, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan map[string]any, 64)
	var readers sync.WaitGroup
	readers.Go(func() {
		defer close(lines)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				lines <- m
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	})
	next := func(msg string) map[string]any {
		t.Helper()
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("binary exited before logging %q", msg)
				}
				if m["msg"] == msg {
					return m
				}
			case <-ctx.Done():
				t.Fatalf("no %q log line", msg)
			}
		}
	}
	listening := next("listening")
	if runtime.GOOS == "linux" {
		for tid, n := range testutil.ThreadNiceness(t, cmd.Process.Pid) {
			if n != 3 {
				t.Errorf("thread %s: niceness %d, want 3", tid, n)
			}
		}
	}
	mainAddr, _ := listening["main"].(string)
	adminAddr, _ := listening["admin"].(string)
	client := &http.Client{Timeout: wait}
	for _, u := range []string{"http://" + adminAddr + "/healthz", "http://" + mainAddr + "/x"} {
		resp, err := client.Get(u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		resp.Body.Close()
		if want := map[bool]int{true: 200, false: 503}[strings.HasSuffix(u, "/healthz")]; resp.StatusCode != want {
			t.Errorf("GET %s = %d, want %d", u, resp.StatusCode, want)
		}
	}
	client.CloseIdleConnections()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("draining")
	next("stopped")
	readers.Wait()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM = %v, want status 0", err)
	}
}
