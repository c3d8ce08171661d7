package client

import (
	"context"
	"log/slog"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/app"
	sbconfig "github.com/switchboard-lb/switchboard/internal/config"
)

// inprocHub runs Switchboard in this process (internal/app.RunWith) on a
// free loopback port. stop shuts it down and waits.
func inprocHub() (url string, stop func(), err error) {
	cfg := sbconfig.Default()
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

func inprocHubTB(tb testing.TB) string {
	tb.Helper()
	url, stop, err := inprocHub()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(stop)
	return url
}
