package app

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/switchboard-lb/switchboard/internal/admin"
	"github.com/switchboard-lb/switchboard/internal/certfile"
	"github.com/switchboard-lb/switchboard/internal/config"
	"github.com/switchboard-lb/switchboard/internal/connlimit"
	"github.com/switchboard-lb/switchboard/internal/proxy"
)

// Addrs are the bound listener addresses.
type Addrs struct {
	Main  net.Addr
	Admin net.Addr // nil when the admin listener is disabled
}

// Options tune Run for tests and embedding; the zero value is what the
// binary uses.
type Options struct {
	// Ready, if set, is called once both listeners are bound, before Run
	// serves; it must not block.
	Ready func(Addrs)
	// Parts, if set, replaces the components buildParts would construct.
	Parts *Parts
	// Reload, if set, delivers new configurations (already validated; the
	// binary sends one on SIGHUP). The static backends are applied at once;
	// other changed keys are logged as needing a restart. The log level is
	// the sender's business (it owns the logger).
	Reload <-chan config.Config
}

// Run serves Switchboard with cfg until ctx is cancelled, then shuts down
// gracefully and returns nil; it returns an error if a listener cannot be
// bound or a component fails (after shutting down the rest). cfg should
// come from config.Load or config.Default(): Run takes its values as given
// (Listen.Port 0 picks a free port; Shutdown.DrainDelay 0 skips the delay).
func Run(ctx context.Context, cfg config.Config, logger *slog.Logger) error {
	return RunWith(ctx, cfg, logger, Options{})
}

// RunWith is Run with Options.
func RunWith(ctx context.Context, cfg config.Config, logger *slog.Logger, opts Options) error {
	a := &app{cfg: cfg, log: logger.With("component", "app")}
	return a.run(ctx, logger, opts)
}

type app struct {
	cfg      config.Config
	log      *slog.Logger
	draining atomic.Bool // set once shutdown begins; read by /healthz
}

func (a *app) run(ctx context.Context, logger *slog.Logger, opts Options) error {
	cfg := a.cfg
	var lc net.ListenConfig
	mainAddr := net.JoinHostPort(cfg.Listen.IP, strconv.Itoa(cfg.Listen.Port))
	mainLn, err := lc.Listen(ctx, "tcp", mainAddr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", mainAddr, err)
	}
	addrs := Addrs{Main: mainLn.Addr()}
	capConns := maxConns(cfg.Listen.MaxConns)
	limited := connlimit.New(mainLn, capConns, a.fullLogger(capConns))
	mainLn = limited
	if cfg.Listen.TLSCert != "" {
		pair, err := certfile.Load(cfg.Listen.TLSCert, cfg.Listen.TLSKey, logger.With("component", "tls"))
		if err != nil {
			_ = mainLn.Close()
			return fmt.Errorf("listen %s: %w", mainAddr, err)
		}
		alpn := []string{"h2", "http/1.1"}
		if cfg.Listen.NoHTTP2 {
			alpn = alpn[1:]
		}
		mainLn = tls.NewListener(mainLn, pair.ServerConfig(alpn...))
	}
	var adminLn net.Listener
	if !cfg.Admin.Disabled {
		adminLn, err = lc.Listen(ctx, "tcp", cfg.Admin.Addr)
		if err != nil {
			_ = mainLn.Close()
			return fmt.Errorf("listen admin %s: %w", cfg.Admin.Addr, err)
		}
		addrs.Admin = adminLn.Addr()
	}
	closeListeners := func() {
		_ = mainLn.Close()
		if adminLn != nil {
			_ = adminLn.Close()
		}
	}

	var parts Parts
	if opts.Parts != nil {
		parts = *opts.Parts
	} else if parts, err = buildParts(cfg, logger, addrs, limited.Stats); err != nil {
		closeListeners()
		return fmt.Errorf("build components: %w", err)
	}

	errorLog := slog.NewLogLogger(logger.With("component", "http").Handler(), slog.LevelWarn)
	var mainSrv FrontServer
	// HTTP/2 requests (TLS only) count against the connection cap too.
	handler := limited.LimitHTTP2(newRouter(cfg, parts))
	if parts.Front != nil {
		mainSrv = parts.Front(handler, errorLog)
	} else {
		mainSrv = &http.Server{
			Handler:           handler,
			ReadHeaderTimeout: cfg.Listen.ReadHeaderTimeout,
			IdleTimeout:       cfg.Listen.IdleTimeout,
			MaxHeaderBytes:    int(cfg.Listen.MaxHeaderBytes),
			ErrorLog:          errorLog,
			HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: proxy.HTTP2Streams},
		}
	}
	var adminSrv *http.Server
	if adminLn != nil {
		adminSrv = &http.Server{
			Handler:           admin.New(parts.Pool, a.draining.Load, parts.Stats),
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       10 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       time.Minute,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          errorLog,
		}
	}

	// Runners live until the end of shutdown (runCtx), or until the first
	// failure anywhere (gctx).
	runCtx, stopRunners := context.WithCancel(context.WithoutCancel(ctx))
	defer stopRunners()
	g, gctx := errgroup.WithContext(runCtx)
	g.Go(serve(mainSrv, mainLn, "main"))
	if adminSrv != nil {
		g.Go(serve(adminSrv, adminLn, "admin"))
	}
	if opts.Reload != nil {
		g.Go(func() error { a.reloads(gctx, opts.Reload, parts); return nil })
	}
	for _, r := range parts.Runners {
		g.Go(func() error {
			err := r(gctx)
			if err != nil && gctx.Err() != nil && errors.Is(err, context.Canceled) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("component: %w", err)
			}
			return nil
		})
	}
	g.Go(func() error {
		select {
		case <-ctx.Done():
		case <-gctx.Done():
		}
		a.shutdown(mainSrv, adminSrv, parts)
		stopRunners()
		return nil
	})

	attrs := []any{"main", addrs.Main.String(), "tls", cfg.Listen.TLSCert != "", "max_conns", limited.Max(), "node_id", cfg.Proxy.NodeID}
	if addrs.Admin != nil {
		attrs = append(attrs, "admin", addrs.Admin.String())
	}
	a.log.Info("listening", attrs...)
	if opts.Ready != nil {
		opts.Ready(addrs)
	}
	err = g.Wait()
	if err != nil {
		a.log.Error("stopped", "err", err)
		return err
	}
	a.log.Info("stopped")
	return nil
}

// reloads applies the configurations from ch until ctx ends.
func (a *app) reloads(ctx context.Context, ch <-chan config.Config, parts Parts) {
	for {
		select {
		case <-ctx.Done():
			return
		case cfg := <-ch:
			a.reload(cfg, parts)
		}
	}
}

// liveKeys are the keys a reload applies without a restart.
var liveKeys = map[string]bool{"proxy.backends": true, "log.level": true}

// reload applies what it can of cfg and reports the rest.
func (a *app) reload(cfg config.Config, parts Parts) {
	changed := config.Changed(a.cfg, cfg)
	var restart []string
	for _, k := range changed {
		if !liveKeys[k] {
			restart = append(restart, k)
		}
	}
	if parts.SetStatic != nil && slices.Contains(changed, "proxy.backends") {
		if err := parts.SetStatic(cfg.Proxy.Backends); err != nil {
			a.log.Error("reload: static backends not applied", "err", err)
			return
		}
		a.cfg.Proxy.Backends = cfg.Proxy.Backends
	}
	a.cfg.Log.Level = cfg.Log.Level
	if len(restart) > 0 {
		a.log.Warn("reload: these changes need a restart and were not applied", "keys", strings.Join(restart, ","))
	}
	a.log.Info("configuration reloaded", "changed", strings.Join(changed, ","))
}

// maxConns is the main listener's connection cap: n, or when n is 0 half
// of the open-file limit left after 1000 descriptors for everything else
// (each proxied connection may hold one to its backend too), at least 64.
func maxConns(n int) int {
	if n > 0 {
		return n
	}
	limit, ok := openFileLimit()
	if !ok {
		return 1 << 20 // unknown or unlimited: a bound that never binds
	}
	return max(64, (limit-1000)/2)
}

// fullLogger returns the main listener's onFull for a cap of limit: a
// warning at most every ten seconds while clients wait for a slot.
func (a *app) fullLogger(limit int) func() {
	var last atomic.Int64
	return func() {
		now := time.Now().UnixNano()
		if l := last.Load(); now-l >= int64(10*time.Second) && last.CompareAndSwap(l, now) {
			a.log.Warn("connection limit reached: new clients wait in the backlog", "max_conns", limit)
		}
	}
}

// serve runs srv on ln until Shutdown or Close.
func serve(srv FrontServer, ln net.Listener, name string) func() error {
	return func() error {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve %s: %w", name, err)
		}
		return nil
	}
}

// shutdown runs the stop sequence (see the package doc). It is bounded by
// DrainDelay + Shutdown.Timeout, plus however long the hooks take to close
// forcibly once their ctx has expired.
func (a *app) shutdown(mainSrv FrontServer, adminSrv *http.Server, p Parts) {
	cfg := a.cfg.Shutdown
	start := time.Now()
	a.draining.Store(true)
	a.log.Info("draining", "delay", cfg.DrainDelay)
	if cfg.DrainDelay > 0 {
		t := time.NewTimer(cfg.DrainDelay)
		<-t.C
	}

	ctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout)
	defer cancel()
	a.hook(ctx, "quiesce", p.Quiesce)
	if err := mainSrv.Shutdown(ctx); err != nil {
		a.log.Warn("in-flight requests cut off", "err", err, "timeout", cfg.Timeout)
		_ = mainSrv.Close()
	}
	if cfg.StreamCloseDelay > 0 && p.CloseTunnels != nil {
		t := time.NewTimer(cfg.StreamCloseDelay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	a.hook(ctx, "close tunnels", p.CloseTunnels)
	a.hook(ctx, "close sessions", p.CloseSessions)
	a.hook(ctx, "close engine", p.CloseEngine)
	if adminSrv != nil {
		// Last, so /healthz says 503 for as long as anything runs.
		if err := adminSrv.Shutdown(ctx); err != nil {
			_ = adminSrv.Close()
		}
	}
	a.log.Info("shut down", "duration", time.Since(start))
}

func (a *app) hook(ctx context.Context, name string, f func(context.Context) error) {
	if f == nil {
		return
	}
	if err := f(ctx); err != nil {
		a.log.Warn("shutdown step", "step", name, "err", err)
	}
}
