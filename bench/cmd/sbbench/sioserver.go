package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// sioReady reports whether internal/sio is implemented yet (the skeleton
// panics with "todo"), and if not, why.
func sioReady() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal/sio not implemented yet: %v", r)
		}
	}()
	s := sio.NewServer(sio.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	s.Of("/")
	c := sio.NewClient("http://127.0.0.1:1", sio.ClientConfig{})
	c.Socket("/", nil)
	return nil
}

// sioCounters are the bench server's counters, served on GET /_stats.
type sioCounters struct {
	Ev    int64  `json:"ev"`
	Echo  int64  `json:"echo"`
	Conns int64  `json:"conns"`
	Impl  string `json:"impl"`
}

// cmdSIOServer runs our Socket.IO server with the benchmark's namespace "/":
// "echo" acked with its own arguments, "ev" counted.
func cmdSIOServer(args []string) error {
	fs := flag.NewFlagSet("sioserver", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8201", "listen address")
	maxRun := fs.Duration("max", 2*time.Hour, "exit after this long (safety bound)")
	coalesce := fs.Duration("read-coalesce", 0, "eio.Config.ReadCoalesce (0: its default, 500µs; negative: off)")
	fs.Parse(args)
	if err := sioReady(); err != nil {
		return err
	}
	var ev, echo, conns atomic.Int64
	cfg := sio.Config{}
	cfg.ReadCoalesce = *coalesce
	srv := sio.NewServer(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	nsp := srv.Of("/")
	nsp.OnConnect(func(s *sio.Socket) error {
		conns.Add(1)
		return nil
	})
	nsp.OnDisconnect(func(s *sio.Socket, reason string) { conns.Add(-1) })
	nsp.On("ev", func(s *sio.Socket, m sio.Message, ack sio.Ack) {
		ev.Add(1)
		if ack != nil {
			ack(sio.Message{})
		}
	})
	nsp.On("echo", func(s *sio.Socket, m sio.Message, ack sio.Ack) {
		echo.Add(1)
		if ack != nil {
			ack(m)
		}
	})
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.HandleFunc("/_stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(sioCounters{Ev: ev.Load(), Echo: echo.Load(), Conns: conns.Load(), Impl: "switchboard internal/sio"})
	})
	return serveBounded(*addr, mux, *maxRun, "", func() { srv.Close() })
}

// SIOLoadResult is the JSON line of a load process (Go or npm).
type SIOLoadResult struct {
	Impl   string  `json:"impl"`
	Mode   string  `json:"mode"`
	Sent   int64   `json:"sent"`
	Acked  int64   `json:"acked"`
	Errors int64   `json:"errors"`
	Secs   float64 `json:"secs"`
	Rate   float64 `json:"rate"`
	Busy   float64 `json:"busy"`
}

func sioClientConfig() sio.ClientConfig {
	return sio.ClientConfig{DialConfig: eio.DialConfig{Path: "/socket.io/"}, AckTimeout: 30 * time.Second,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
}

// cmdSIOLoad is the Go-client load process: -mode ack keeps -inflight
// acked "echo" events in flight in total over -c connections; -mode ev
// emits "ev" as fast as the client's bounded queue accepts.
func cmdSIOLoad(args []string) error {
	fs := flag.NewFlagSet("sioload", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8201", "server base URL")
	mode := fs.String("mode", "ack", "ack | ev")
	conns := fs.Int("c", 4, "connections")
	inflight := fs.Int("inflight", 16, "acks in flight in total (ack mode)")
	dur := fs.Duration("d", 10*time.Second, "duration")
	startAt := fs.Int64("start-at", 0, "unix ms at which to start the load (after connecting)")
	size := fs.Int("size", 32, "payload string length")
	fs.Parse(args)
	if err := sioReady(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *dur+2*time.Minute)
	defer cancel()
	var clients []*sio.Client
	var socks []*sio.ClientSocket
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	for range *conns {
		c := sio.NewClient(*base, sioClientConfig())
		s := c.Socket("/", nil)
		cctx, cc := context.WithTimeout(ctx, 20*time.Second)
		err := c.Connect(cctx)
		cc()
		if err != nil {
			return fmt.Errorf("connect %s: %w", *base, err)
		}
		clients = append(clients, c)
		socks = append(socks, s)
	}
	payload, _ := json.Marshal(stringOf(*size))
	msg := sio.Message{Args: []json.RawMessage{payload}}
	if *startAt > 0 {
		if err := sleepCtx(ctx, time.Until(time.UnixMilli(*startAt))); err != nil {
			return err
		}
	}
	var sent, acked, errs atomic.Int64
	t0 := time.Now()
	cpu0, _ := cpuTicks(os.Getpid())
	end := t0.Add(*dur)
	var wg sync.WaitGroup
	switch *mode {
	case "ack":
		per := max(1, *inflight/len(socks))
		for _, s := range socks {
			for range per {
				wg.Go(func() {
					for time.Now().Before(end) {
						sent.Add(1)
						actx, ac := context.WithTimeout(ctx, 30*time.Second)
						_, err := s.EmitWithAck(actx, "echo", msg)
						ac()
						if err != nil {
							errs.Add(1)
							return
						}
						acked.Add(1)
					}
				})
			}
		}
	case "ev":
		for _, s := range socks {
			wg.Go(func() {
				for time.Now().Before(end) {
					for range 64 {
						if err := s.Emit("ev", msg); err != nil {
							errs.Add(1)
							return
						}
						sent.Add(1)
					}
				}
				// Barrier: events on a socket are handled in order, so this
				// ack means every "ev" before it was handled (no loss by exit).
				bctx, bc := context.WithTimeout(ctx, 30*time.Second)
				defer bc()
				if _, err := s.EmitWithAck(bctx, "echo", sio.Message{Args: []json.RawMessage{json.RawMessage(`"barrier"`)}}); err != nil {
					errs.Add(1)
				}
			})
		}
	default:
		return fmt.Errorf("unknown mode %q", *mode)
	}
	wg.Wait()
	secs := time.Since(t0).Seconds()
	cpu1, _ := cpuTicks(os.Getpid())
	rate := float64(sent.Load()) / secs
	if *mode == "ack" {
		rate = float64(acked.Load()) / secs
	}
	return json.NewEncoder(os.Stdout).Encode(SIOLoadResult{Impl: "go", Mode: *mode, Sent: sent.Load(), Acked: acked.Load(),
		Errors: errs.Load(), Secs: secs, Rate: rate, Busy: float64(cpu1-cpu0) / clkTck / secs})
}

func stringOf(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return string(b)
}

// cmdSIOHold opens -n idle Socket.IO connections (Go client, WebSocket
// transport), prints "ready N failed M" and holds them until SIGTERM or -max.
func cmdSIOHold(args []string) error {
	fs := flag.NewFlagSet("siohold", flag.ExitOnError)
	base := fs.String("url", "http://127.0.0.1:8201", "server base URL")
	n := fs.Int("n", 1000, "connections (≤ 9,990 per process: 20,000 fd limit)")
	par := fs.Int("par", 32, "parallel connects")
	maxRun := fs.Duration("max", 10*time.Minute, "exit after this long (safety bound)")
	fs.Parse(args)
	if err := sioReady(); err != nil {
		return err
	}
	ctx, cancel := boundedContext(*maxRun)
	defer cancel()
	held := openHeld(ctx, *n, *par, "connect", func(ctx context.Context) (*sio.Client, error) {
		c := sio.NewClient(*base, sioClientConfig())
		c.Socket("/", nil)
		cctx, cc := context.WithTimeout(ctx, 30*time.Second)
		defer cc()
		if err := c.Connect(cctx); err != nil {
			c.Close()
			return nil, err
		}
		return c, nil
	})
	<-ctx.Done()
	var cw sync.WaitGroup
	for _, c := range held {
		cw.Go(func() { c.Close() })
	}
	cw.Wait()
	return nil
}
