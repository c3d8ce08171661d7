package priority

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// maxPasses bounds Set's re-listing of threads. A pass lists threads that
// another pass's threads may have cloned before they were reniced; the
// runtime starts threads rarely, so two or three passes settle it.
const maxPasses = 100

// Set gives every thread of the process niceness nice.
func Set(nice int) error {
	done := map[int]bool{}
	for range maxPasses {
		ents, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return fmt.Errorf("priority: list threads: %w", err)
		}
		fresh := false
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			fresh = true
			done[tid] = true
			// who = a thread id: Linux renices that thread alone.
			if err := syscall.Setpriority(syscall.PRIO_PROCESS, tid, nice); err != nil && !errors.Is(err, syscall.ESRCH) {
				return describe(nice, err)
			}
		}
		if !fresh {
			return nil
		}
	}
	return fmt.Errorf("priority: threads kept appearing after %d passes", maxPasses)
}
