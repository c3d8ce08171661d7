package testutil

import (
	"testing"
	"time"
)

// WaitFor polls cond, state that has no event to wait on, every
// millisecond until it holds. The 20 s bound only guards against a hang:
// it is not a timing assertion.
func WaitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
