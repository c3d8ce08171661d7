// Package proxy is Switchboard's HTTP and WebSocket reverse proxy: it picks
// a backend from the registry through a balance.Policy, forwards the request
// over its own lean HTTP/1.1 upstream client (keep-alive pools, streaming
// without buffering, retries on dead connections), keeps Engine.IO sessions
// on the backend that created them (sticky sid), and tunnels upgraded
// connections (WebSocket and any other Upgrade) with a small idle footprint.
//
// It does not learn backends (control/config add them to the registry),
// decide the balancing algorithm (balance) or serve the /list channel.
//
// Locks: Proxy.mu (tunnel set), sticky.mu (sid table), upstream.mu (idle
// connections of one backend) and tunnel direction locks are never held
// together and never across I/O.
package proxy
