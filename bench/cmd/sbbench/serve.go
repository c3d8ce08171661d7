package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"syscall"
	"time"
)

// boundedContext is done on SIGTERM or SIGINT, or after maxRun (the safety
// bound every helper subcommand has). The returned cancel releases both.
func boundedContext(maxRun time.Duration) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	ctx, cancel := context.WithTimeout(ctx, maxRun)
	return ctx, func() {
		cancel()
		stop()
	}
}

// serveBounded listens on addr, prints "listening ADDR" followed by suffix,
// and serves h until SIGTERM, SIGINT or maxRun; onStop (if not nil) runs just
// before the server is closed. A clean stop returns nil.
func serveBounded(addr string, h http.Handler, maxRun time.Duration, suffix string, onStop func()) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("listening %s%s\n", ln.Addr(), suffix)
	ctx, cancel := boundedContext(maxRun)
	defer cancel()
	go func() {
		<-ctx.Done()
		if onStop != nil {
			onStop()
		}
		srv.Close()
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
