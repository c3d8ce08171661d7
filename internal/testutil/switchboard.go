package testutil

import (
	"fmt"
	"math/rand/v2"
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

// issuedPorts holds every port FreePorts returned in this process, so that
// two servers of one test are never told to listen on the same port.
var issuedPorts struct {
	sync.Mutex
	m map[int]bool
}

// Ports handed to child processes are drawn from [portLow, portHigh),
// below the kernel's ephemeral range (ip_local_port_range, 32768 and up by
// default). A port found free inside that range can still be taken, before
// the child listens on it, as the source port of any connection another
// test makes, and that race did fail CI runs (EADDRINUSE).
const (
	portLow  = 10000
	portHigh = 32768
)

// FreePort returns a loopback TCP port that was free a moment ago and that
// it has not returned before in this process.
func FreePort(tb testing.TB) int {
	tb.Helper()
	return FreePorts(tb, 1)
}

// FreePorts returns the first of n consecutive loopback TCP ports that were
// all free a moment ago, none returned before in this process.
func FreePorts(tb testing.TB, n int) int {
	tb.Helper()
	issuedPorts.Lock()
	defer issuedPorts.Unlock()
	if issuedPorts.m == nil {
		issuedPorts.m = map[int]bool{}
	}
next:
	for range 200 {
		first := portLow + rand.IntN(portHigh-portLow-n)
		for p := first; p < first+n; p++ {
			if issuedPorts.m[p] {
				continue next
			}
			ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
			if err != nil {
				continue next
			}
			_ = ln.Close()
		}
		for p := first; p < first+n; p++ {
			issuedPorts.m[p] = true
		}
		return first
	}
	tb.Fatalf("testutil: no %d free consecutive ports in 200 tries", n)
	return 0
}

// RemoveSwitchboardBinary deletes what SwitchboardBinary built; call it at
// the end of TestMain.
func RemoveSwitchboardBinary() {
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
}
