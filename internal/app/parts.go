package app

import (
	"context"
	"log"
	"net"
	"net/http"

	"github.com/switchboard-lb/switchboard/internal/admin"
)

// Parts are the pluggable components app wires around its listeners. Every
// field is optional: a nil handler answers 503 (the proxy: 503 "no
// backend"), a nil hook is skipped. buildParts (wire.go) fills them from the
// configuration; tests pass their own through Options.Parts.
//
// Hooks run once each, sequentially, on the goroutine running shutdown, in
// the order of the fields below. Each gets a ctx that expires at the end of
// Shutdown.Timeout; past it a hook must close what is left forcibly and
// return promptly.
type Parts struct {
	// Control serves the /list channel's Engine.IO requests: exact paths
	// cfg.Control.Path and cfg.Control.Path+"/".
	Control http.Handler
	// Tracker serves cfg.Tracker.Path and cfg.Tracker.Path+"/" unless the
	// tracker is disabled (then those paths go to Proxy).
	Tracker http.Handler
	// Message serves the exact path cfg.Message.Path unless the route is
	// disabled (then it goes to Proxy).
	Message http.Handler
	// Proxy serves every other path. In tracker-only mode it is not used:
	// other paths answer 404.
	Proxy http.Handler
	// Pool is what the admin listener's /backends lists (nil: empty).
	Pool admin.Pool
	// Stats is what the admin listener's /stats shows: a JSON-encodable
	// snapshot of the node's counters (nil: an empty object).
	Stats func() any
	// SetStatic replaces the static backends with urls (already
	// validated) on a configuration reload; nil: reloads cannot change
	// them.
	SetStatic func(urls []string) error

	// Front, if set, builds the main listener's server around the
	// top-level handler (the proxy's own HTTP/1.1 front end); nil means a
	// plain net/http server.
	Front func(h http.Handler, errorLog *log.Logger) FrontServer

	// Runners are long-lived loops (heartbeats, sweepers, engine
	// connections). Each runs on its own goroutine from start until the
	// end of shutdown, when its ctx is cancelled; it must then return. An
	// error returned earlier shuts the whole node down and is returned by
	// Run.
	Runners []func(ctx context.Context) error

	// Quiesce runs right before the main listener's Shutdown (stage 2): a
	// chance to end long-polling requests and refuse new sessions, which
	// Shutdown would otherwise wait for.
	Quiesce func(ctx context.Context) error
	// CloseTunnels (stage 3) closes hijacked connections, which
	// http.Server.Shutdown never sees: WebSocket tunnels get Close 1001 at a
	// frame boundary. It runs Shutdown.StreamCloseDelay after the main
	// listener stopped.
	CloseTunnels func(ctx context.Context) error
	// CloseSessions (stage 4) closes the control channel's sessions and
	// drops this node's presence.
	CloseSessions func(ctx context.Context) error
	// CloseEngine (stage 5) closes the presence/broker engine.
	CloseEngine func(ctx context.Context) error
}

// FrontServer is the main listener's server: *http.Server or the proxy's
// front end. Serve returns http.ErrServerClosed after Shutdown or Close.
type FrontServer interface {
	Serve(ln net.Listener) error
	Shutdown(ctx context.Context) error
	Close() error
}
