package priority

import (
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestSetEveryThread renices the test process (upwards, which needs no
// privilege) and checks every thread: those running before Set and those
// the runtime starts after it.
func TestSetEveryThread(t *testing.T) {
	stop := make(chan struct{})
	var wg sync.WaitGroup
	// pinThread parks a goroutine on a thread of its own, so the runtime
	// must find another one for the rest. The goroutine exits still locked,
	// which ends its thread: no reniced thread is left idle for the next
	// run of the test (-count) to reuse instead of starting one.
	pinThread := func() {
		ready := make(chan struct{})
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			close(ready)
			<-stop
		}()
		<-ready
	}
	defer func() { close(stop); wg.Wait() }()
	for range 4 {
		pinThread()
	}
	before := testutil.ThreadNiceness(t, os.Getpid())
	if len(before) < 5 {
		t.Fatalf("only %d threads before Set", len(before))
	}
	want := min(19, before[strconv.Itoa(os.Getpid())]+3)

	if err := Set(want); err != nil {
		t.Fatal(err)
	}
	// Pin goroutines until the runtime had to start new threads (it first
	// reuses idle ones).
	started := func(after map[string]int) int {
		n := 0
		for tid := range after {
			if _, old := before[tid]; !old {
				n++
			}
		}
		return n
	}
	after := testutil.ThreadNiceness(t, os.Getpid())
	for i := 0; i < 64 && started(after) == 0; i++ {
		pinThread()
		after = testutil.ThreadNiceness(t, os.Getpid())
	}
	if started(after) == 0 {
		t.Fatalf("no thread started after Set (%d threads before, %d after)", len(before), len(after))
	}
	for tid, n := range after {
		if _, old := before[tid]; n != want {
			t.Errorf("thread %s: niceness %d, want %d (started before Set: %v)", tid, n, want, old)
		}
	}
}
