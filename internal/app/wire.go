package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/switchboard-lb/switchboard/internal/admin"
	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/proxy"
)

// buildParts constructs the components from cfg. addrs holds the bound
// listener addresses (the channel needs the main one to refuse a backend
// that points at Switchboard itself when Listen.Port is 0). It starts no
// goroutines: long-lived loops go into Parts.Runners.
//
// Each component receives only its own configuration, translated here from
// the plain config sub-structs (config imports no component package).
func buildParts(cfg config.Config, logger *slog.Logger, addrs Addrs) (Parts, error) {
	_ = addrs // TODO(lead): the control channel's own-listener check needs addrs.Main.
	var p Parts

	// The pool, shared by the proxy, the control channel, the tracker and
	// the admin listener.
	reg := backend.NewRegistry()
	now := time.Now()
	for _, raw := range cfg.Proxy.Backends {
		u, err := backend.ParseURL(raw) // Validate already applied the same rules
		if err != nil {
			return Parts{}, fmt.Errorf("static backend: %w", err)
		}
		reg.Add(&backend.Backend{ID: "static:" + u.Host, URL: u, Addr: u.Host, Weight: 1, Static: true, Since: now})
	}
	p.Pool = poolOf(reg)

	// TODO(lead): engine. e := memory.New...(cfg.Presence...);
	//   p.CloseEngine = e.Close (stage 5).

	if !cfg.Proxy.TrackerOnly {
		px, err := proxy.New(proxyConfig(cfg), reg, balance.NewSmoothWRR(), logger)
		if err != nil {
			return Parts{}, fmt.Errorf("proxy: %w", err)
		}
		p.Proxy = px
		p.CloseTunnels = func(ctx context.Context) error {
			// Close 1001 at frame boundaries first, then drop pooled
			// connections and wait for every tunnel goroutine.
			return errors.Join(px.CloseTunnels(ctx), px.Close())
		}
	}

	// TODO(lead): control channel on the main listener (cfg.Control; reg;
	//   the engine; addrs.Main for the own-listener check):
	//   p.Control = ctl                      // serves cfg.Control.Path and Path+"/"
	//   p.Quiesce = ctl.<end long-polls, refuse new sessions>
	//   p.CloseSessions = ctl.Close          // stage 4
	//   p.Runners = append(p.Runners, ctl.Run) if it has loops.
	//   Set admin's Session column: extend poolOf once Backend carries its session id.

	// TODO(lead): message route (unless cfg.Message.Disabled):
	//   p.Message = <router's HTTP handler>(cfg.Message...)
	// TODO(lead): tracker (unless cfg.Tracker.Disabled):
	//   p.Tracker = tr; its runners/close hooks as above.

	return p, nil
}

// proxyConfig translates the plain configuration into the proxy's own.
func proxyConfig(cfg config.Config) proxy.Config {
	// cfg.Shutdown.StreamCloseDelay is applied by app before CloseTunnels.
	// TODO(lead): cfg.Proxy.RetryBackoff/RetryBackoffMax have no knob in
	// backend yet (backend.CircuitMin/CircuitMax are constants).
	return proxy.Config{
		NodeID:                 cfg.Proxy.NodeID,
		DialTimeout:            cfg.Proxy.DialTimeout,
		ResponseHeaderTimeout:  cfg.Proxy.ResponseHeaderTimeout,
		MaxIdleConnsPerBackend: cfg.Proxy.IdleConnsPerBackend,
		IdleConnTimeout:        cfg.Proxy.IdleConnTimeout,
		TrustedProxies:         cfg.Proxy.TrustedProxies,
		StickyIdleTimeout:      cfg.Proxy.StickyTTL,
	}
}

// poolOf adapts the registry to what the admin listener reads.
func poolOf(reg *backend.Registry) admin.Pool {
	return admin.PoolFunc(func() []admin.BackendInfo {
		snap := reg.Snapshot()
		out := make([]admin.BackendInfo, 0, len(snap))
		for _, b := range snap {
			out = append(out, admin.BackendInfo{
				ID:       b.ID,
				Address:  b.URL.String(),
				URL:      b.PublicURL,
				Weight:   b.EffectiveWeight(),
				Since:    b.Since,
				InFlight: b.InFlight(),
				Tunnels:  b.Tunnels(),
				Draining: b.Draining(),
				Static:   b.Static,
			})
		}
		return out
	})
}
