package app

import (
	"log/slog"

	"github.com/switchboard-lb/switchboard/internal/config"
)

// buildParts constructs the components from cfg. addrs holds the bound
// listener addresses (the channel needs the main one to refuse a backend
// that points at Switchboard itself when Listen.Port is 0). It starts no
// goroutines: long-lived loops go into Parts.Runners.
//
// Each component receives only its own configuration, translated here from
// the plain config sub-structs (config imports no component package).
func buildParts(cfg config.Config, logger *slog.Logger, addrs Addrs) (Parts, error) {
	_, _, _ = cfg, logger, addrs
	var p Parts

	// TODO(lead): engine. e := memory.New(memory.Config{Grace: cfg.Presence.Grace, ...})
	//   p.CloseEngine = e.Close

	// TODO(lead): backend registry + static backends (cfg.Proxy.Backends,
	//   already validated by config.CheckBackendURL), shared by proxy,
	//   control, tracker and admin:
	//   reg := backend.NewRegistry(...); for _, u := range cfg.Proxy.Backends { reg.AddStatic(u) }
	//   p.Pool = admin.PoolFunc(func() []admin.BackendInfo { ...map reg.Snapshot()... })

	// TODO(lead): proxy (skip in tracker-only mode; app answers 404 then).
	//   px, err := proxy.New(proxy.Config{DialTimeout: cfg.Proxy.DialTimeout, ...}, reg, logger)
	//   p.Proxy = px; p.CloseTunnels = px.CloseTunnels
	//   app waits cfg.Shutdown.StreamCloseDelay before CloseTunnels: do not pass it to the proxy too.

	// TODO(lead): control channel on the main listener.
	//   ctl, err := control.New(control.Config{Path: cfg.Control.Path, Namespace: ..., Token: ...,
	//       AllowRemote: ..., OwnAddr: addrs.Main, ...}, reg, e, logger)
	//   p.Control = ctl; p.Quiesce = ctl.Quiesce; p.CloseSessions = ctl.Close; p.Runners = append(p.Runners, ctl.Run)

	// TODO(lead): message route (unless cfg.Message.Disabled) and tracker
	//   (unless cfg.Tracker.Disabled): p.Message = ...; p.Tracker = ...

	return p, nil
}
