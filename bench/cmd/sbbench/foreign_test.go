package main

import (
	"os"
	"testing"
)

// TestForeignTicks: the noise meter counts what other processes used in
// the window, whatever happened to them meanwhile, and nothing of ours.
func TestForeignTicks(t *testing.T) {
	before := map[int]procTime{
		10: {start: 1, ticks: 100}, // a shell: grows by 5, and reaps child 11
		11: {start: 2, ticks: 30},  // exits: its 30+20 end up in 10's children's times
		12: {start: 3, ticks: 7},   // its PID is reused by a new process
		20: {start: 4, ticks: 500}, // ours
	}
	after := map[int]procTime{
		10: {start: 1, ticks: 100 + 5 + 50},
		12: {start: 9, ticks: 4},
		13: {start: 9, ticks: 6},    // started in the window
		20: {start: 4, ticks: 900},  // ours
		21: {start: 9, ticks: 1000}, // ours, started in the window
	}
	ours := map[int]bool{20: true, 21: true}
	// The shell's 55 less child 11's 30 from before the window (5 of the
	// shell's own, 20 of the child's), less the 7 old 12 had used before
	// it ended, plus new 12's 4 and 13's 6.
	if got, want := foreignTicks(before, after, ours), int64(55-30-7+4+6); got != want {
		t.Fatalf("foreign ticks %d, want %d", got, want)
	}
	if got := foreignTicks(after, after, ours); got != 0 {
		t.Fatalf("nothing happened, yet %d ticks", got)
	}
	// The real /proc: this process is there, with a start time.
	if p, ok := procTimes()[os.Getpid()]; !ok || p.start <= 0 {
		t.Fatalf("procTimes misses this process: %+v", p)
	}
	if !ourPIDs()[os.Getpid()] {
		t.Fatal("ourPIDs misses this process")
	}
}
