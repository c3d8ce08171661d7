// Package balance chooses which backend receives a request. It owns the
// Policy interface and its implementations; it does no I/O and does not
// track sessions (sticky Engine.IO sessions are the proxy's job).
package balance
