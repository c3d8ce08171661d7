// Package apptest runs a whole Switchboard node in the test's process, on
// a free loopback port, for tests and examples that need a real hub but
// not a separate process to kill.
package apptest

import (
	"context"
	"log/slog"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/app"
	"github.com/switchboard-lb/switchboard/internal/config"
)

// Start runs Switchboard on its defaults, except: a free loopback port, no
// admin listener, no drain delay. It returns the main URL and stop, which
// shuts the node down and waits for it.
func Start() (url string, stop func(), err error) {
	cfg := config.Default()
	cfg.Listen.Port = 0
	cfg.Admin.Disabled = true
	cfg.Shutdown.DrainDelay = 0
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan app.Addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- app.RunWith(ctx, cfg, slog.New(slog.DiscardHandler), app.Options{Ready: func(a app.Addrs) { ready <- a }})
	}()
	select {
	case a := <-ready:
		return "http://" + a.Main.String(), func() { cancel(); <-done }, nil
	case err := <-done:
		cancel()
		return "", nil, err
	}
}

// StartTB is Start for a test: it fails tb on error and stops at cleanup.
func StartTB(tb testing.TB) string {
	tb.Helper()
	url, stop, err := Start()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return url
}
