// Package healthcheck probes the pool's backends over HTTP and takes the
// ones that fail out of rotation, as HAProxy's "check inter rise fall" and
// Caddy's active health checks do.
//
// Every Interval each backend in the registry gets one GET of Path on a
// fresh connection, bounded by Timeout. A 2xx or 3xx answer is a success;
// anything else (a refused or reset connection, a timeout, a 5xx) is a
// failure. Fall consecutive failures mark the backend unhealthy
// (backend.SetHealthy(false)): the balancer skips it, as it skips a
// draining backend, until Rise consecutive successes mark it healthy
// again. Backends start healthy, so a new backend takes traffic at once.
//
// Passive checks stay in place alongside: a refused dial still opens the
// backend's circuit for a short, growing interval (internal/proxy). Active
// checks add what passive ones cannot see: a backend that accepts
// connections but no longer answers, or answers its health path with an
// error, before a client request finds out.
package healthcheck

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// Config configures a Checker. Zero fields take the defaults.
type Config struct {
	// Path is the request path of a check, with an optional query
	// ("/healthz"). Required.
	Path string
	// Interval is the time between two rounds of checks (default 5s).
	Interval time.Duration
	// Timeout bounds one check: connecting, the answer's head and body
	// (default 2s).
	Timeout time.Duration
	// Fall is how many consecutive failures mark a backend unhealthy
	// (default 3).
	Fall int
	// Rise is how many consecutive successes mark it healthy again
	// (default 2).
	Rise int
	// MaxConcurrent bounds the checks in flight at once (default 64).
	MaxConcurrent int
	// TLS configures checks of https backends (nil: crypto/tls defaults).
	TLS *tls.Config
}

// Defaults applied to zero Config fields.
const (
	DefaultInterval      = 5 * time.Second
	DefaultTimeout       = 2 * time.Second
	DefaultFall          = 3
	DefaultRise          = 2
	DefaultMaxConcurrent = 64

	// maxBody is how much of an answer's body is read (and discarded).
	maxBody = 4 << 10
)

func (c Config) withDefaults() Config {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Fall <= 0 {
		c.Fall = DefaultFall
	}
	if c.Rise <= 0 {
		c.Rise = DefaultRise
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = DefaultMaxConcurrent
	}
	return c
}

// Stats are a Checker's counters.
type Stats struct {
	Checks     uint64 `json:"checks"`                   // checks made
	Failed     uint64 `json:"failed"`                   // checks that failed
	MarkedDown uint64 `json:"marked_down"`              // healthy → unhealthy transitions
	MarkedUp   uint64 `json:"marked_up"`                // unhealthy → healthy transitions
	Unhealthy  int    `json:"unhealthy" metric:"gauge"` // backends unhealthy now
}

// Checker runs the health checks of one registry.
type Checker struct {
	cfg    Config
	reg    *backend.Registry
	log    *slog.Logger
	client *http.Client
	tr     *http.Transport

	mu    sync.Mutex // guards state
	state map[*backend.Backend]*streak

	checks, failed, down, up atomic.Uint64
}

// streak counts a backend's consecutive results of one kind.
type streak struct {
	ok bool // kind of the current streak
	n  int
}

// New returns a Checker for the backends of reg. It starts no goroutines:
// call Run.
func New(cfg Config, reg *backend.Registry, log *slog.Logger) *Checker {
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.Default()
	}
	d := &net.Dialer{Timeout: cfg.Timeout}
	tr := &http.Transport{
		DialContext:            d.DialContext,
		TLSClientConfig:        cfg.TLS,
		TLSHandshakeTimeout:    cfg.Timeout,
		DisableKeepAlives:      true, // each check opens a connection, as a client would
		DisableCompression:     true,
		MaxResponseHeaderBytes: 16 << 10,
		ResponseHeaderTimeout:  cfg.Timeout,
	}
	return &Checker{
		cfg:    cfg,
		reg:    reg,
		log:    log,
		tr:     tr,
		client: &http.Client{Transport: tr, CheckRedirect: noRedirects},
		state:  map[*backend.Backend]*streak{},
	}
}

// noRedirects takes a 3xx answer as it is (a success) instead of following it.
func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// Run checks every backend each Interval until ctx ends, then waits for
// the checks in flight and returns ctx's error.
func (c *Checker) Run(ctx context.Context) error {
	defer c.tr.CloseIdleConnections()
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			c.Round(ctx)
		}
	}
}

// Round checks every backend once, at most MaxConcurrent at a time, and
// returns when all are done. Run calls it every Interval.
func (c *Checker) Round(ctx context.Context) {
	snap := c.reg.Snapshot()
	c.forget(snap)
	sem := make(chan struct{}, c.cfg.MaxConcurrent)
	var wg sync.WaitGroup
	for _, b := range snap {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			err := c.check(ctx, b)
			if ctx.Err() != nil {
				return // shutting down: not the backend's fault
			}
			c.record(b, err)
		})
	}
	wg.Wait()
}

// check makes one request to b.
func (c *Checker) check(ctx context.Context, b *backend.Backend) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.URL.Scheme+"://"+b.URL.Host+c.cfg.Path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "switchboard-healthcheck")
	res, err := c.client.Do(req)
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, io.LimitReader(res.Body, maxBody))
	_ = res.Body.Close()
	if res.StatusCode < 200 || res.StatusCode > 399 {
		return fmt.Errorf("status %d", res.StatusCode)
	}
	return err
}

// record counts one result and applies Fall and Rise.
func (c *Checker) record(b *backend.Backend, err error) {
	ok := err == nil
	c.checks.Add(1)
	if !ok {
		c.failed.Add(1)
	}
	c.mu.Lock()
	s := c.state[b]
	if s == nil {
		s = &streak{ok: ok}
		c.state[b] = s
	}
	if s.ok != ok {
		s.ok, s.n = ok, 0
	}
	s.n++
	n := s.n
	c.mu.Unlock()
	switch {
	case !ok && n >= c.cfg.Fall && b.SetHealthy(false):
		c.down.Add(1)
		c.reg.Touch(b)
		c.log.Warn("backend failed its health checks; out of rotation",
			"backend_id", b.ID, "backend_addr", b.URL.String(), "failures", n, "err", err)
	case ok && n >= c.cfg.Rise && b.SetHealthy(true):
		c.up.Add(1)
		c.reg.Touch(b)
		c.log.Info("backend passes its health checks again; back in rotation",
			"backend_id", b.ID, "backend_addr", b.URL.String(), "successes", n)
	}
}

// forget drops the streaks of backends that left the pool.
func (c *Checker) forget(snap []*backend.Backend) {
	in := make(map[*backend.Backend]struct{}, len(snap))
	for _, b := range snap {
		in[b] = struct{}{}
	}
	c.mu.Lock()
	for b := range c.state {
		if _, ok := in[b]; !ok {
			delete(c.state, b)
		}
	}
	c.mu.Unlock()
}

// Stats returns the counters, and how many backends of the pool are
// unhealthy now.
func (c *Checker) Stats() Stats {
	st := Stats{Checks: c.checks.Load(), Failed: c.failed.Load(), MarkedDown: c.down.Load(), MarkedUp: c.up.Load()}
	for _, b := range c.reg.Snapshot() {
		if !b.Healthy() {
			st.Unhealthy++
		}
	}
	return st
}

// tracked returns how many backends have a streak (tests).
func (c *Checker) tracked() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.state)
}
