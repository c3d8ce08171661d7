package main

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// startHolders spreads total idle connections over holder processes of at
// most perProc connections each (spec(i, n) describes holder i holding n),
// waits for every holder's "ready OK failed FAILED" line, adds the counts to
// ir and then sleeps idle. The returned stop ends every holder started; the
// caller must call it, also when err is not nil.
func startHolders(ctx context.Context, env *Env, total, perProc int, idle time.Duration,
	spec func(i, n int) ProcSpec, ir *IdleResult) (stop func(), err error) {
	var holders []*Proc
	stop = func() {
		for _, h := range holders {
			h.Stop()
		}
	}
	left := total
	for i := 0; left > 0; i++ {
		n := min(left, perProc)
		left -= n
		h, err := env.Start(spec(i, n))
		if err != nil {
			return stop, err
		}
		holders = append(holders, h)
	}
	for _, h := range holders {
		rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
		l, err := h.WaitLine(rctx, "ready ")
		cancel()
		if err != nil {
			return stop, err
		}
		var ok, failed int
		fmt.Sscanf(l, "ready %d failed %d", &ok, &failed)
		ir.Conns += ok
		ir.Failed += failed
	}
	if ir.Conns == 0 {
		return stop, fmt.Errorf("no connection could be opened (see %s)", holders[0].Log)
	}
	return stop, sleepCtx(ctx, idle)
}

// perConn fills in the per-connection RSS and fd costs from the before and
// after samples; ir.Conns must not be 0.
func (ir *IdleResult) perConn() {
	n := float64(ir.Conns)
	ir.KiBPerConn = float64(ir.RSSAfterKiB-ir.RSSBeforeKiB) / n
	ir.FDsPerConn = float64(ir.FDsAfter-ir.FDsBefore) / n
}

// openHeld opens up to n connections with open, at most par at a time,
// stopping early when ctx ends, and returns those that opened. It prints the
// first failure to stderr as "first <what> error: ..." and then the
// "ready OK failed FAILED" line that startHolders waits for.
func openHeld[C any](ctx context.Context, n, par int, what string, open func(context.Context) (C, error)) []C {
	var mu sync.Mutex
	var held []C
	var failed atomic.Int64
	var firstErr atomic.Value
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for range n {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			c, err := open(ctx)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		})
	}
	wg.Wait()
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "first %s error: %v\n", what, e)
	}
	fmt.Printf("ready %d failed %d\n", len(held), failed.Load())
	return held
}
