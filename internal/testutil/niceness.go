package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// ThreadNiceness reads the niceness of every thread of process pid from
// /proc (Linux: field 19 of /proc/PID/task/TID/stat), keyed by thread id.
// Threads that exit while it reads are left out.
func ThreadNiceness(tb testing.TB, pid int) map[string]int {
	tb.Helper()
	dir := fmt.Sprintf("/proc/%d/task", pid)
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "stat"))
		if err != nil {
			continue // the thread exited
		}
		// The command name may hold spaces: fields start after its ')'.
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		n, err := strconv.Atoi(fields[19-3])
		if err != nil {
			tb.Fatalf("stat of thread %s: %v", e.Name(), err)
		}
		out[e.Name()] = n
	}
	return out
}
