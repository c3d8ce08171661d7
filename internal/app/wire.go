package app

import (
	"context"
	"errors"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/switchboard-lb/switchboard/internal/admin"
	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/connlimit"
	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/healthcheck"
	"github.com/switchboard-lb/switchboard/internal/msgroute"
	"github.com/switchboard-lb/switchboard/internal/proxy"
	msgrouter "github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/tracker"
)

// buildParts constructs the components from cfg. addrs holds the bound
// listener addresses (the channel needs the main one to refuse a backend
// that points at Switchboard itself when Listen.Port is 0). It starts no
// goroutines: long-lived loops go into Parts.Runners.
//
// Each component receives only its own configuration, translated here from
// the plain config sub-structs (config imports no component package).
func buildParts(cfg config.Config, logger *slog.Logger, addrs Addrs, listener func() connlimit.Stats) (Parts, error) {
	var p Parts

	// The pool, shared by the proxy, the control channel, the tracker and
	// the admin listener.
	reg := backend.NewRegistry()
	reg.SetRetryBackoff(cfg.Proxy.RetryBackoff, cfg.Proxy.RetryBackoffMax)
	p.SetStatic = func(urls []string) error { return setStatic(reg, urls, logger) }
	if err := p.SetStatic(cfg.Proxy.Backends); err != nil {
		return Parts{}, err
	}
	p.Pool = poolOf(reg)

	// The engine (presence and rooms) and the router over it.
	var rt *msgrouter.Router
	pres := memory.NewPresence(memory.PresenceConfig{
		OnExpire: func(name string, h engine.Holder) { rt.OnExpire(name, h) },
	})
	rooms := memory.NewRooms()
	rt = msgrouter.New(routerConfig(cfg), pres, rooms, logger)
	p.CloseEngine = func(ctx context.Context) error {
		return errors.Join(pres.Close(ctx), rooms.Close(ctx))
	}

	// The proxy: every other path, and the message route's forwarder (also
	// in tracker-only mode, where it is not mounted).
	var pol balance.Policy = balance.NewSmoothWRR()
	affinity := msgroute.UserKey(cfg.Proxy.Affinity)
	if affinity.Enabled() {
		pol = msgroute.NewAffinity(affinity, rt, reg, pol)
	}
	px, err := proxy.New(proxyConfig(cfg), reg, pol, logger)
	if err != nil {
		return Parts{}, fmt.Errorf("proxy: %w", err)
	}
	p.CloseTunnels = func(ctx context.Context) error {
		// Close 1001 at frame boundaries first, then drop pooled
		// connections and wait for every tunnel goroutine.
		return errors.Join(px.CloseTunnels(ctx), px.Close())
	}
	if !cfg.Proxy.TrackerOnly {
		p.Proxy = px
		// The proxy's own HTTP/1.1 front end serves plain requests on a
		// fast path that builds no *http.Request; with user affinity every
		// request needs one, so net/http serves them all.
		if !affinity.Enabled() {
			fallback := []string{cfg.Control.Path, cfg.Tracker.Path, cfg.Message.Path}
			p.Front = func(h http.Handler, errorLog *log.Logger) FrontServer {
				return proxy.NewServer(px, proxy.ServerConfig{
					FallbackPrefixes:  fallback,
					ReadHeaderTimeout: cfg.Listen.ReadHeaderTimeout,
					IdleTimeout:       cfg.Listen.IdleTimeout,
					MaxHeaderBytes:    int(cfg.Listen.MaxHeaderBytes),
					ErrorLog:          errorLog,
				}, h)
			}
		}
	}

	// The /list channel on the main listener.
	var own []string
	if addrs.Main != nil {
		own = append(own, addrs.Main.String())
	}
	ctl, err := control.New(control.Config{
		Namespace:    cfg.Control.Namespace,
		Token:        cfg.Control.Token,
		AllowRemote:  cfg.Control.AllowRemote,
		OwnAddrs:     own,
		MaxMetaBytes: cfg.Control.MaxMetaBytes,
		MaxSessions:  cfg.Control.MaxSessions,
		SIO: sio.Config{Config: eio.Config{
			PingInterval:    cfg.Control.PingInterval,
			PingTimeout:     cfg.Control.PingTimeout,
			MaxPayloadBytes: cfg.Control.MaxPayloadBytes,
			SendQueue:       cfg.Control.SendQueueMessages,
			WriteLinger:     cfg.Control.WriteLinger,
			ReadCoalesce:    offIfZero(cfg.Control.ReadCoalesce),
		}},
	}, reg, rt, logger)
	if err != nil {
		return Parts{}, fmt.Errorf("control: %w", err)
	}
	p.Control = ctl
	p.CloseSessions = ctl.Close

	// The tracker for browsers.
	var tr *tracker.Tracker // nil when disabled
	if !cfg.Tracker.Disabled {
		t, err := tracker.New(trackerConfig(cfg), reg, logger)
		if err != nil {
			return Parts{}, fmt.Errorf("tracker: %w", err)
		}
		tr = t
		p.Tracker = tr
		p.Runners = append(p.Runners, tr.Run)
		// Closing the tracker ends its long-polls, which Shutdown would
		// otherwise wait for; it holds no state.
		p.Quiesce = func(context.Context) error { tr.Close(); return nil }
	}

	// The message route.
	if !cfg.Message.Disabled {
		trusted, err := proxy.ParseTrustedProxies(cfg.Proxy.TrustedProxies)
		if err != nil {
			return Parts{}, fmt.Errorf("message route: %w", err)
		}
		p.Message = msgroute.New(msgroute.Config{
			MaxBodyBytes:   cfg.Message.MaxBodyBytes,
			Token:          cfg.Message.Token,
			RatePerSecond:  cfg.Message.RatePerSecond,
			Burst:          cfg.Message.Burst,
			TrustedProxies: trusted,
			Recipient:      msgroute.UserKey(cfg.Message.UserKey),
		}, reg, rt, px, logger)
	}

	// Active health checks of every backend in the pool.
	var hc *healthcheck.Checker
	if cfg.Proxy.HealthPath != "" {
		hc = healthcheck.New(healthcheck.Config{
			Path:     cfg.Proxy.HealthPath,
			Interval: cfg.Proxy.HealthInterval,
			Timeout:  cfg.Proxy.HealthTimeout,
			Fall:     cfg.Proxy.HealthFall,
			Rise:     cfg.Proxy.HealthRise,
		}, reg, logger.With("component", "healthcheck"))
		p.Runners = append(p.Runners, hc.Run)
	}

	p.Stats = func() any {
		s := nodeStats{Listener: listener(), Proxy: px.Stats(), Channel: ctl.Stats(), Messages: rt.Stats()}
		if tr != nil {
			ts := tr.Stats()
			s.Tracker = &ts
		}
		if hc != nil {
			hs := hc.Stats()
			s.Health = &hs
		}
		return s
	}

	return p, nil
}

// setStatic makes the registry's static backends exactly urls (validated
// by config.Validate): new ones join, missing ones leave, kept ones with
// the same weight are untouched (their counters, circuit and health stay),
// and one whose weight changed is replaced. A URL whose address a /list
// backend holds is left to that backend.
func setStatic(reg *backend.Registry, urls []string, logger *slog.Logger) error {
	type static struct {
		u      *url.URL
		weight int
	}
	want := map[string]static{}
	var order []string // ids in configuration order
	for _, raw := range urls {
		u, w, err := backend.ParseStatic(raw) // Validate already applied the same rules
		if err != nil {
			return fmt.Errorf("static backend: %w", err)
		}
		id := "static:" + u.Host
		if _, dup := want[id]; !dup {
			order = append(order, id)
		}
		want[id] = static{u, w}
	}
	for _, b := range reg.Snapshot() {
		if _, ok := want[b.ID]; b.Static && !ok {
			reg.Remove(b.ID)
			logger.Info("static backend removed", "component", "app", "backend_addr", b.URL.String())
		}
	}
	now := time.Now()
	for _, id := range order {
		st := want[id]
		if cur := reg.Get(id); cur != nil && cur.Weight == st.weight {
			continue // kept as it is
		}
		if held := holderOf(reg, st.u.Host); held != nil && !held.Static {
			logger.Warn("static backend not added: a /list backend holds its address", "component", "app",
				"backend_addr", st.u.String(), "backend_id", held.ID)
			continue
		}
		// New, or its weight changed (a Backend's weight is fixed once
		// added: the new one replaces it).
		reg.Add(&backend.Backend{ID: id, URL: st.u, Addr: st.u.Host, Weight: st.weight, Static: true, Since: now})
		logger.Info("static backend added", "component", "app", "backend_addr", st.u.String(), "weight", st.weight)
	}
	return nil
}

// holderOf returns the backend at addr, or nil.
func holderOf(reg *backend.Registry, addr string) *backend.Backend {
	for _, b := range reg.Snapshot() {
		if b.Addr == addr {
			return b
		}
	}
	return nil
}

// routerConfig translates the plain configuration into the message
// router's own.
func routerConfig(cfg config.Config) msgrouter.Config {
	return msgrouter.Config{
		NodeID:               cfg.Proxy.NodeID,
		Grace:                cfg.Presence.Grace,
		MaxNameBytes:         cfg.Presence.MaxNameBytes,
		MailboxMessages:      cfg.Presence.MailboxMessages,
		MailboxBytes:         cfg.Presence.MailboxBytes,
		MailboxTotalBytes:    cfg.Presence.MailboxTotalBytes,
		MailboxTotalMessages: cfg.Presence.MailboxTotalMessages,
	}
}

// proxyConfig translates the plain configuration into the proxy's own.
func proxyConfig(cfg config.Config) proxy.Config {
	// cfg.Shutdown.StreamCloseDelay is applied by app before CloseTunnels.
	// cfg.Proxy.RetryBackoff/RetryBackoffMax go to the registry (buildParts).
	return proxy.Config{
		NodeID:                 cfg.Proxy.NodeID,
		DialTimeout:            cfg.Proxy.DialTimeout,
		ResponseHeaderTimeout:  cfg.Proxy.ResponseHeaderTimeout,
		MaxIdleConnsPerBackend: cfg.Proxy.IdleConnsPerBackend,
		IdleConnTimeout:        cfg.Proxy.IdleConnTimeout,
		TunnelIdleTimeout:      cfg.Proxy.TunnelIdleTimeout,
		DisableIOURing:         cfg.Proxy.NoIOURing,
		TrustedProxies:         cfg.Proxy.TrustedProxies,
		StickyIdleTimeout:      cfg.Proxy.StickyTTL,
		AccessLog:              cfg.Log.Requests,
	}
}

// nodeStats is the admin listener's /stats.
type nodeStats struct {
	Listener connlimit.Stats    `json:"listener"` // the main listener's connections
	Proxy    proxy.Stats        `json:"proxy"`
	Channel  control.Stats      `json:"channel"`
	Messages msgrouter.Stats    `json:"messages"`
	Tracker  *tracker.Stats     `json:"tracker,omitempty"` // absent when the tracker is disabled
	Health   *healthcheck.Stats `json:"health,omitempty"`  // absent without health checks
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
				Session:  b.Session,
				Since:    b.Since,
				InFlight: b.InFlight(),
				Tunnels:  b.Tunnels(),
				Draining: b.Draining(),
				Healthy:  b.Healthy(),
				Static:   b.Static,
			})
		}
		return out
	})
}

// offIfZero maps a configured delay whose zero means off onto an eio.Config
// field whose zero means its default and a negative value off.
func offIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// trackerConfig is the tracker's part of cfg; the tracker's other settings
// (heartbeat, queues, payload bound) keep its defaults.
func trackerConfig(cfg config.Config) tracker.Config {
	return tracker.Config{
		Path:           cfg.Tracker.Path,
		AllowedOrigins: cfg.Tracker.AllowedOrigins,
		ShowInternal:   cfg.Tracker.ShowInternal,
		MaxClients:     cfg.Tracker.MaxClients,
		RatePerSecond:  cfg.Tracker.RatePerSecond,
		Burst:          cfg.Tracker.Burst,
		EventRate:      cfg.Tracker.EventRatePerSecond,
		EventBurst:     cfg.Tracker.EventBurst,
		TrustedProxies: cfg.Proxy.TrustedProxies,
	}
}
