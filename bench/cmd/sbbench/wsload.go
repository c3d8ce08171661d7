package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// WSEchoResult is the JSON line printed by `sbbench wsecho`.
type WSEchoResult struct {
	Target  string  `json:"target"`
	Conns   int     `json:"conns"`
	Msgs    int64   `json:"msgs"` // completed round trips
	Errors  int64   `json:"errors"`
	Secs    float64 `json:"secs"`
	Rate    float64 `json:"rate"` // round trips per second
	P99us   float64 `json:"p99_us"`
	Busy    float64 `json:"busy"`                    // client CPU seconds / wall seconds during the load
	Foreign float64 `json:"foreign_cores,omitempty"` // set by the harness
	// TargetCPU is the CPU seconds the target's process tree used
	// meanwhile (dials and closes included); set by the harness.
	TargetCPU float64 `json:"target_cpu_s,omitempty"`
}

// cmdWSEcho: N connections each ping-ponging one message at a time for D.
func cmdWSEcho(args []string) error {
	fs := flag.NewFlagSet("wsecho", flag.ExitOnError)
	target := fs.String("url", "ws://127.0.0.1:9001/ws", "WebSocket URL")
	conns := fs.Int("c", 64, "connections")
	dur := fs.Duration("d", 10*time.Second, "duration")
	size := fs.Int("size", 32, "message size in bytes")
	fs.StringVar(&wsImpl, "ws", wsImpl, "WebSocket implementation: auto|internal|mini")
	fs.Parse(args)

	ctx, cancel := context.WithTimeout(context.Background(), *dur+30*time.Second)
	defer cancel()
	cs := make([]wsConn, 0, *conns)
	for range *conns {
		dctx, dc := context.WithTimeout(ctx, 10*time.Second)
		c, err := wsDial(dctx, *target)
		dc()
		if err != nil {
			return fmt.Errorf("dial %s: %w", *target, err)
		}
		cs = append(cs, c)
	}
	msg := make([]byte, *size)
	for i := range msg {
		msg[i] = 'a' + byte(i%26)
	}
	var total, errs atomic.Int64
	hists := make([]*Hist, len(cs))
	start := time.Now()
	cpu0, _ := cpuTicks(os.Getpid())
	end := start.Add(*dur)
	var wg sync.WaitGroup
	for i, c := range cs {
		h := &Hist{}
		hists[i] = h
		wg.Go(func() {
			var n int64
			for time.Now().Before(end) {
				t0 := time.Now()
				if err := c.Write(1, msg); err != nil {
					errs.Add(1)
					return
				}
				if _, _, err := c.Read(); err != nil {
					errs.Add(1)
					return
				}
				h.Record(time.Since(t0))
				n++
			}
			total.Add(n)
		})
	}
	// Close everything at the hard bound so a stuck read cannot hang us.
	stopper := time.AfterFunc(*dur+10*time.Second, func() {
		for _, c := range cs {
			c.Close()
		}
	})
	wg.Wait()
	stopper.Stop()
	secs := time.Since(start).Seconds()
	cpu1, _ := cpuTicks(os.Getpid())
	for _, c := range cs {
		c.Close()
	}
	var all Hist
	for _, h := range hists {
		all.Merge(h)
	}
	return json.NewEncoder(os.Stdout).Encode(WSEchoResult{
		Target: *target, Conns: len(cs), Msgs: total.Load(), Errors: errs.Load(), Secs: secs,
		Rate: float64(total.Load()) / secs, P99us: float64(all.Quantile(0.99)) / 1e3,
		Busy: float64(cpu1-cpu0) / clkTck / secs,
	})
}

// cmdWSHold opens N idle WebSocket connections, prints "ready N failed M",
// and holds them until SIGTERM/SIGINT or -max.
func cmdWSHold(args []string) error {
	fs := flag.NewFlagSet("wshold", flag.ExitOnError)
	target := fs.String("url", "ws://127.0.0.1:9001/ws", "WebSocket URL")
	n := fs.Int("n", 1000, "connections (keep ≤ 9,990 per process: 20,000 fd limit)")
	par := fs.Int("par", 32, "parallel dials")
	maxRun := fs.Duration("max", 10*time.Minute, "exit after this long (safety bound)")
	fs.StringVar(&wsImpl, "ws", wsImpl, "WebSocket implementation: auto|internal|mini")
	fs.Parse(args)

	ctx, cancel := boundedContext(*maxRun)
	defer cancel()

	held := openHeld(ctx, *n, *par, "dial", func(ctx context.Context) (wsConn, error) {
		dctx, dc := context.WithTimeout(ctx, 15*time.Second)
		defer dc()
		return wsDial(dctx, *target)
	})
	<-ctx.Done()
	for _, c := range held {
		c.Close()
	}
	return nil
}
