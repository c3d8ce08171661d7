// Package proxy is Switchboard's HTTP and WebSocket reverse proxy.
//
// Proxy (an http.Handler) picks a backend from the registry through a
// balance.Policy and forwards the request over its own lean HTTP/1.1
// upstream client (per-backend keep-alive pools, streaming without
// buffering, retries of refused dials and of connections that die before
// any response byte), keeps Engine.IO sessions on the backend that created
// them (sticky sid learnt from the handshake response), and tunnels
// upgraded connections (WebSocket and any other Upgrade). Idle tunnels
// wait in an epoll reactor (Linux): no goroutine, no buffer and no splice
// pipe while idle; CloseTunnels ends WebSocket tunnels with Close 1001 at a
// frame boundary.
//
// Server is the HTTP/1.1 front end: plain bodyless HTTP/1.1 requests take
// a fast path (a strict parser that accepts a subset of what net/http
// accepts, checked by FuzzFastParse and TestFrontEndsAgree); every other
// connection is handed, bytes already read included, to a net/http.Server.
//
// The package does not learn backends (control/config add them to the
// registry), decide the balancing algorithm (balance) or serve the /list
// channel (the handler given to NewServer routes it).
//
// Locks: Proxy.mu (tunnel set, reactor), Server.mu (listeners, connections),
// stickyTable.mu (sid table), upstream.mu (idle connections of one
// backend), tunnel.mu (half-close timer), reactor.mu (registered
// directions) and reactor.fdMu (epoll descriptor lifetime) are never held
// across I/O; the only nesting is reactor.fdMu → reactor.mu in reactor.add.
package proxy
