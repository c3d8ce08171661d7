//go:build linux

package ws

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestReadCoalesce: a stream of small frames, each in its own write,
// makes the reader poll on the ReadCoalesce clock with the socket's
// low-water mark raised. Every message still comes back whole and in
// order, including one larger than the read buffer whose tail arrives
// later (the reader must lower the mark before it waits for that tail),
// and one sent alone after the stream has stopped (the reader must have
// gone back to waiting for readability). It runs at two periods: 5 ms,
// where the stream surely coalesces, and 300 µs, on the kernel clock,
// where it does unless the machine is too busy to read three times within
// one period (then only the messages are checked).
func TestReadCoalesce(t *testing.T) {
	t.Run("5ms", func(t *testing.T) { testReadCoalesce(t, 5*time.Millisecond, true) })
	t.Run("300us", func(t *testing.T) { testReadCoalesce(t, 300*time.Microsecond, false) })
}

func testReadCoalesce(t *testing.T, period time.Duration, mustNap bool) {
	naps := make(chan int, 1)
	url, errs := startServer(t, Config{MaxMessageBytes: 1 << 20, ReadCoalesce: period}, func(c *Conn) error {
		err := echoMessages(c)
		naps <- c.naps
		return err
	})
	nc, br := rawClient(t, url, "")
	var want [][]byte
	send := func(p []byte, pause time.Duration, split int) {
		t.Helper()
		want = append(want, p)
		f := rawFrame(true, 0, OpBinary, p, true)
		if split > 0 {
			if _, err := nc.Write(f[:split]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(pause)
			f = f[split:]
		}
		if _, err := nc.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	// Echoes are read concurrently, so the server never blocks on us.
	got := make(chan []byte, 1024)
	go func() {
		for {
			_, _, p, err := readRawFrame(br)
			if err != nil {
				close(got)
				return
			}
			got <- p
		}
	}()
	stream := func(round int) {
		for i := range 300 {
			send(fmt.Appendf(nil, "small %d.%d", round, i), 0, 0)
			if i%10 == 9 {
				time.Sleep(200 * time.Microsecond)
			}
		}
	}
	stream(1)
	time.Sleep(50 * time.Millisecond) // several empty polls: coalescing ends
	send([]byte("alone"), 0, 0)
	stream(2)
	big := bytes.Repeat([]byte("x"), readBufSize+4000)
	send(big, 30*time.Millisecond, readBufSize+100)

	for i, w := range want {
		select {
		case p, ok := <-got:
			if !ok {
				t.Fatalf("connection ended before message %d", i)
			}
			if !bytes.Equal(p, w) {
				t.Fatalf("message %d: got %d bytes %.20q, want %d bytes %.20q", i, len(p), p, len(w), w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d (%d bytes) never came back", i, len(w))
		}
	}
	if _, err := nc.Write(rawFrame(true, 0, OpClose, closePayload(make([]byte, maxCtrlLen), CloseNormal, ""), true)); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if n := recv(t, naps); n == 0 && mustNap {
		t.Fatal("the reader never coalesced: the test streamed too slowly to exercise it")
	} else {
		t.Logf("coalesced %d times", n)
	}
}

// TestNapClock: readers napping on one period share its clock (one tick
// wakes them all, so one wake-up of the process serves every busy
// connection), the clock ticks from the kernel timer (not a runtime timer,
// which rounds sub-millisecond sleeps up to a millisecond when the process
// is idle), and its goroutine stops once no reader uses it, to start again
// on the next nap.
func TestNapClock(t *testing.T) {
	const period = 300 * time.Microsecond
	k := napClockFor(period)
	k.wait()
	k.mu.Lock()
	none := k.none
	k.mu.Unlock()
	if none {
		t.Fatal("no kernel timer on Linux")
	}

	// Two readers that ask within one tick get the same tick (a tick may
	// fall between the two asks, but not between every pair).
	shared := false
	for range 100 {
		a, ga := k.next()
		b, gb := k.next()
		<-b
		if a == b && ga == gb {
			shared = true
			break
		}
	}
	if !shared {
		t.Fatal("two readers in one period never got the same tick")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				k.wait()
			}
		})
	}
	wg.Wait()

	// Unused, the clock stops within a few ticks.
	deadline := time.Now().Add(10 * time.Second)
	for {
		k.mu.Lock()
		stopped := k.tick == nil
		k.mu.Unlock()
		if stopped {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the clock kept running with no reader")
		}
		time.Sleep(time.Millisecond)
	}
	k.wait() // and starts again
	if ch, _ := k.next(); ch == nil {
		t.Fatal("the clock did not restart")
	}
}

// TestReadCoalesceWaitingPeer: a peer that sends one message and waits for
// its answer before the next would get one answer per period from a
// coalescing reader. After a stream has made the reader coalesce, such a
// peer makes it stop (and not start again at once), and every message
// still comes back in order.
func TestReadCoalesceWaitingPeer(t *testing.T) {
	quits := make(chan int, 1)
	url, errs := startServer(t, Config{ReadCoalesce: 5 * time.Millisecond}, func(c *Conn) error {
		err := echoMessages(c)
		quits <- c.napQuits
		return err
	})
	nc, br := rawClient(t, url, "")
	// The stream: echoes are read after it, so the server's writes queue in
	// the socket buffers meanwhile (300 short frames fit).
	for i := range 300 {
		if _, err := nc.Write(rawFrame(true, 0, OpBinary, fmt.Appendf(nil, "s%d", i), true)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 300 {
		if _, _, p, err := readRawFrame(br); err != nil || string(p) != fmt.Sprintf("s%d", i) {
			t.Fatalf("stream echo %d: %q, %v", i, p, err)
		}
	}
	// The waiting peer: one at a time. At one answer per 5 ms period this
	// would take a second; the reader stops coalescing after a few.
	for i := range 200 {
		want := fmt.Sprintf("w%d", i)
		if _, err := nc.Write(rawFrame(true, 0, OpBinary, []byte(want), true)); err != nil {
			t.Fatal(err)
		}
		if _, _, p, err := readRawFrame(br); err != nil || string(p) != want {
			t.Fatalf("echo %d: %q, %v", i, p, err)
		}
	}
	if _, err := nc.Write(rawFrame(true, 0, OpClose, closePayload(make([]byte, maxCtrlLen), CloseNormal, ""), true)); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if n := recv(t, quits); n == 0 {
		t.Fatal("the reader kept coalescing for a peer waiting for each answer")
	}
}

// TestNextNapCooldown: spells that bring one message per poll each double
// the next cooldown up to its cap; a spell that paid resets it.
func TestNextNapCooldown(t *testing.T) {
	cool := 0
	var got []int
	for range 9 {
		cool = nextNapCooldown(cool, false)
		got = append(got, cool)
	}
	want := []int{64, 128, 256, 512, 1024, 2048, 4096, 4096, 4096}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("thin spells: cooldowns %v, want %v", got, want)
	}
	if c := nextNapCooldown(cool, true); c != napCooldown {
		t.Fatalf("after a spell that paid: %d, want %d", c, napCooldown)
	}
}

// TestNapClockGroup: the readers one tick wakes form a group; the idle
// hook each hands over when it leaves runs once the last one has left (on
// the last one's goroutine), so that their deferred writes go out
// together. A reader still busy at the next tick does not hold the others
// longer: that tick runs what they left, and the late reader's own hook
// runs when it leaves.
func TestNapClockGroup(t *testing.T) {
	const period = 50 * time.Millisecond
	k := napClockFor(period)
	// join returns three readers woken by one tick, retrying while a tick
	// falls between their asks.
	join := func() uint64 {
		for range 100 {
			a, ga := k.next()
			_, gb := k.next()
			_, gc := k.next()
			<-a
			if ga == gb && gb == gc {
				return ga
			}
		}
		t.Fatal("three readers in one period never got the same tick")
		return 0
	}
	var mu sync.Mutex
	var ran []string
	hook := func(name string) func() {
		return func() {
			mu.Lock()
			ran = append(ran, name)
			mu.Unlock()
		}
	}
	ranNow := func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(ran, ",")
	}

	// All three leave: nothing runs before the last leaves, then all.
	clean := false
	reset := func() {
		mu.Lock()
		ran = nil
		mu.Unlock()
	}
	for range 50 {
		reset()
		gen := join()
		k.leave(gen, hook("a"))
		k.leave(gen, nil) // a reader with nothing deferred
		early := ranNow()
		k.leave(gen, hook("c"))
		k.mu.Lock()
		same := k.gen == gen
		k.mu.Unlock()
		if !same {
			continue // a tick came first and ran them: try again
		}
		if early != "" || ranNow() != "a,c" {
			t.Fatalf("before the last left: %q; after: %q, want a,c", early, ranNow())
		}
		clean = true
		break
	}
	if !clean {
		t.Fatal("never saw a group complete within its period")
	}

	// One stays busy: the next tick runs the hooks of those that left.
	reset()
	gen := join()
	k.leave(gen, hook("a"))
	k.leave(gen, hook("b"))
	deadline := time.Now().Add(10 * time.Second)
	for ranNow() != "a,b" {
		if time.Now().After(deadline) {
			t.Fatalf("the next tick did not run the group's hooks: %q", ranNow())
		}
		time.Sleep(time.Millisecond)
	}
	k.leave(gen, hook("late")) // the group is over: runs at once
	if got := ranNow(); got != "a,b,late" {
		t.Fatalf("late reader: %q", got)
	}
}

// TestReadCoalesceGroupStress: many connections stream at once through
// coalescing readers whose idle hooks do the writing, as Engine.IO's do
// (the echoes of a burst are queued, and the hook writes them), so hooks
// run on other readers' goroutines at the end of each tick's group. Some
// clients vanish mid-stream, which takes their readers out of the group
// by an error. Every surviving client gets all its echoes in order, every
// handler returns, and TestMain finds no goroutine left behind.
func TestReadCoalesceGroupStress(t *testing.T) {
	const conns, msgs, dropEvery = 12, 400, 4
	url, errs := startServer(t, Config{ReadCoalesce: 2 * time.Millisecond}, func(c *Conn) error {
		var mu sync.Mutex
		var pending []Message
		flush := func() {
			mu.Lock()
			out := pending
			pending = nil
			mu.Unlock()
			if len(out) > 0 {
				_ = c.WriteMessages(out) // a dropped client fails it; the reader sees why
			}
		}
		err := c.ReadMessagesIdle(func(op int, p []byte) error {
			mu.Lock()
			pending = append(pending, Message{Op: op, Data: p})
			mu.Unlock()
			return nil
		}, flush)
		flush()
		return err
	})
	var wg sync.WaitGroup
	for i := range conns {
		nc, br := rawClient(t, url, "")
		drop := i%dropEvery == dropEvery-1
		wg.Go(func() {
			got := make(chan error, 1)
			go func() {
				for n := range msgs {
					_, _, p, err := readRawFrame(br)
					if err != nil {
						got <- fmt.Errorf("echo %d: %w", n, err)
						return
					}
					if want := fmt.Sprintf("c%d m%d", i, n); string(p) != want {
						got <- fmt.Errorf("echo %d: %q, want %q", n, p, want)
						return
					}
				}
				got <- nil
			}()
			for n := range msgs {
				if drop && n == msgs/2 {
					_ = nc.Close() // gone mid-stream, without a close frame
					<-got
					return
				}
				if _, err := nc.Write(rawFrame(true, 0, OpBinary, fmt.Appendf(nil, "c%d m%d", i, n), true)); err != nil {
					t.Errorf("client %d: %v", i, err)
					return
				}
				if n%8 == 7 {
					time.Sleep(100 * time.Microsecond) // bursts: reads that empty the socket
				}
			}
			if err := <-got; err != nil {
				t.Errorf("client %d: %v", i, err)
			}
			_, _ = nc.Write(rawFrame(true, 0, OpClose, closePayload(make([]byte, maxCtrlLen), CloseNormal, ""), true))
		})
	}
	wg.Wait()
	for range conns {
		if err := recv(t, errs); err == nil {
			t.Error("a handler returned no error: a read loop cannot end without one")
		}
	}
}
