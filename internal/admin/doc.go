// Package admin serves Switchboard's admin listener: GET /healthz (200 "ok",
// or 503 "draining" once shutdown began) and GET /backends (the pool as
// JSON). It is read-only and reads the pool through the small Pool
// interface, so it imports neither proxy nor backend; internal/app adapts
// the real registry to it. It does not own the listener or its lifecycle.
package admin
