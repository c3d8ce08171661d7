// Package proxy is Switchboard's HTTP and WebSocket reverse proxy.
//
// Proxy (an http.Handler) picks a backend from the registry through a
// balance.Policy and forwards the request over its own lean HTTP/1.1
// upstream client (per-backend keep-alive pools, streaming without
// buffering, retries of refused dials and of connections that die before
// any response byte), keeps Engine.IO sessions on the backend that created
// them (sticky sid learnt from the handshake response), and tunnels
// upgraded connections (WebSocket and any other Upgrade). Tunnels are
// served by epoll reactors (Linux, one per two Ps, each parked in Go's
// netpoller): bytes are copied inline with one read per message while the
// peers keep up, so an idle tunnel holds no goroutine, no buffer and no
// splice pipe; a slow peer or a bulk transfer gets a goroutine until it
// goes idle. A reactor reads a whole batch of ready connections first and
// then makes all of the batch's writes in one io_uring submission
// (rawio.SendRing), so that no peer it wakes can preempt it before every
// peer was written; without io_uring (Config.DisableIOURing, or a kernel
// or sandbox that refuses it) each message is written with write(2) right
// after its read. A TLS end (a wss client, an https backend)
// is polled on its socket the same way, but copied by a goroutine whenever
// traffic flows, since crypto/tls reads and writes it. CloseTunnels ends WebSocket tunnels with
// Close 1001 at a frame boundary.
//
// Server is the HTTP/1.1 front end: plain bodyless HTTP/1.1 requests take
// a fast path (a strict parser that accepts a subset of what net/http
// accepts, checked by FuzzFastParse and TestFrontEndsAgree); every other
// connection is handed, bytes already read included, to a net/http.Server.
// A TLS connection whose client chose h2 in ALPN is handed over right
// after the handshake, as the *tls.Conn itself, so that net/http serves
// it with its HTTP/2 server.
// Both fronts forward response heads up to Config.MaxResponseHeaderBytes
// (heads bigger than the upstream read buffer are read into a pooled
// buffer) and abort the upstream exchange when the client closes or resets
// its connection before the response head came: net/http through the
// request context, the fast path through one watcher goroutine per Server
// (clientwatch.go).
//
// The package does not learn backends (control/config add them to the
// registry), decide the balancing algorithm (balance) or serve the /list
// channel (the handler given to NewServer routes it).
//
// Locks: Proxy.mu (tunnel set, reactors), Server.mu (listeners, connections;
// the client-gone watcher holds it only to scan the connections),
// stickyTable.mu (sid table), upstream.mu (idle connections of one
// backend), tunnel.mu (half-close timer, reactor registration) and
// reactor.mu (registered directions) are never held across blocking I/O;
// the only nesting is tunnel.mu → reactor.mu (and an epoll_ctl) in
// tunnel.register. Socket and epoll descriptors are used raw only inside
// RawConn.Control, which keeps them from being closed meanwhile; a staged
// batch nests its destinations' Control calls until its io_uring submit
// (reactor.stage), so nothing a batch writes to can be closed and its
// descriptor reused by another connection before the write is made.
package proxy
