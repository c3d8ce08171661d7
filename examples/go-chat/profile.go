package main

import (
	"fmt"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
)

// startProfile writes a CPU profile to $GOCHAT_CPUPROFILE (a "%d" in it
// becomes the process ID) until the returned stop runs. Opt-in, for
// profiling under the bench harness; a no-op when the variable is unset.
func startProfile() (stop func()) {
	path := os.Getenv("GOCHAT_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	path = strings.Replace(path, "%d", strconv.Itoa(os.Getpid()), 1)
	f, err := os.Create(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-chat: cpu profile:", err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "go-chat: cpu profile:", err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
