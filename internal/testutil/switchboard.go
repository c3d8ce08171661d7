package testutil

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// SwitchboardBinary builds cmd/switchboard once per test process (with the
// race detector when this test binary has it) into a per-process temp
// directory, and returns its path. Packages whose tests run the real binary
// as a process (to kill and restart it) share this one build step.
func SwitchboardBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "switchboard-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "switchboard")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "./cmd/switchboard")...)
		cmd.Dir = RepoRoot(tb)
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/switchboard: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

// issuedPorts holds every port FreePort returned in this process: the
// kernel may hand a just-closed port out again at once, and two servers of
// one test told to listen on the same port make a confusing failure.
var issuedPorts struct {
	sync.Mutex
	m map[int]bool
}

// FreePort returns a loopback TCP port that was free a moment ago and that
// it has not returned before in this process.
func FreePort(tb testing.TB) int {
	tb.Helper()
	issuedPorts.Lock()
	defer issuedPorts.Unlock()
	if issuedPorts.m == nil {
		issuedPorts.m = map[int]bool{}
	}
	for range 100 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			tb.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if !issuedPorts.m[port] {
			issuedPorts.m[port] = true
			return port
		}
	}
	tb.Fatal("testutil: no new free port in 100 tries")
	return 0
}

// RemoveSwitchboardBinary deletes what SwitchboardBinary built; call it at
// the end of TestMain.
func RemoveSwitchboardBinary() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
}
