package main

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestStartHolders checks the split of connections over holder processes
// and the summing of their "ready OK failed FAILED" lines.
func TestStartHolders(t *testing.T) {
	env := &Env{Root: t.TempDir(), Logs: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var asked []int
	var ir IdleResult
	stop, err := startHolders(ctx, env, 7, 3, time.Millisecond, func(i, n int) ProcSpec {
		asked = append(asked, n)
		// Each holder reports one failure and holds until stopped.
		return ProcSpec{Name: fmt.Sprintf("hold-%d", i), Capture: true,
			Argv: []string{"sh", "-c", fmt.Sprintf("echo ready %d failed 1; exec sleep 60", n-1)}}
	}, &ir)
	stop()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(asked, []int{3, 3, 1}) {
		t.Errorf("holders asked for %v, want [3 3 1]", asked)
	}
	if ir.Conns != 4 || ir.Failed != 3 {
		t.Errorf("conns %d failed %d, want 4 and 3", ir.Conns, ir.Failed)
	}
	ir = IdleResult{Conns: 4, RSSBeforeKiB: 100, RSSAfterKiB: 140, FDsBefore: 10, FDsAfter: 18}
	ir.perConn()
	if ir.KiBPerConn != 10 || ir.FDsPerConn != 2 {
		t.Errorf("per conn %v KiB %v fds, want 10 and 2", ir.KiBPerConn, ir.FDsPerConn)
	}
}

// TestStartHoldersNoneOpen: a run where no holder opened anything is an error.
func TestStartHoldersNoneOpen(t *testing.T) {
	env := &Env{Root: t.TempDir(), Logs: t.TempDir()}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var ir IdleResult
	stop, err := startHolders(ctx, env, 2, 5, time.Millisecond, func(i, n int) ProcSpec {
		return ProcSpec{Name: "hold-none", Capture: true, Argv: []string{"sh", "-c", "echo ready 0 failed 2; exec sleep 60"}}
	}, &ir)
	stop()
	if err == nil || ir.Failed != 2 {
		t.Errorf("err %v failed %d, want an error and 2 failed", err, ir.Failed)
	}
}
