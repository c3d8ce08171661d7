// Package app wires Switchboard's components from a config.Config and owns
// their lifecycle: it binds the main and admin listeners, routes the main
// listener's paths (the /list channel's engine path, the tracker, the
// message route; everything else to the proxy), runs long-lived parts in
// one errgroup, and on shutdown stops them in the order STYLE.md §3 gives:
// mark draining (/healthz 503) → DrainDelay → finish in-flight requests
// (http.Server.Shutdown, bounded by Shutdown.Timeout) → close tunnels →
// close control sessions → close the engine → stop the admin listener.
//
// Components are plugged in through Parts (handlers and hooks), built by
// buildParts in wire.go; app does not know their types beyond that.
package app
