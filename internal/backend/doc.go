// Package backend owns the upstream servers Switchboard proxies to: the
// Backend type with its hot, atomically updated state (in-flight requests,
// open tunnels, draining flag, circuit breaker) and the Registry, a
// copy-on-write pool that readers snapshot without locking.
//
// It does not pick backends (package balance), forward traffic (package
// proxy) or learn about backends (packages control and config do, and call
// Registry.Add/Remove).
package backend
