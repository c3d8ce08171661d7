package app

import (
	"net/http"
	"strings"

	"github.com/switchboard-lb/switchboard/internal/config"
)

// router is the main listener's top-level handler: an exact-path lookup for
// Switchboard's own endpoints, everything else to the fallback (the proxy).
// It is built once and only read afterwards.
type router struct {
	exact    map[string]http.Handler
	fallback http.Handler
}

func newRouter(cfg config.Config, p Parts) *router {
	rt := &router{exact: map[string]http.Handler{}}
	engine := func(path string, h http.Handler, name string) {
		if h == nil {
			h = unavailable(name)
		}
		path = strings.TrimSuffix(path, "/")
		rt.exact[path] = h
		rt.exact[path+"/"] = h
	}
	engine(cfg.Control.Path, p.Control, "the /list channel")
	if !cfg.Tracker.Disabled {
		engine(cfg.Tracker.Path, p.Tracker, "the tracker")
		// The tracker's JSON list for clients without Socket.IO.
		rt.exact[strings.TrimSuffix(cfg.Tracker.Path, "/")+"/servers"] = rt.exact[strings.TrimSuffix(cfg.Tracker.Path, "/")]
	}
	if !cfg.Message.Disabled {
		h := p.Message
		if h == nil {
			h = unavailable("the message route")
		}
		rt.exact[cfg.Message.Path] = h
	}
	switch {
	case cfg.Proxy.TrackerOnly:
		rt.fallback = http.HandlerFunc(notProxied)
	case p.Proxy != nil:
		rt.fallback = p.Proxy
	default:
		rt.fallback = http.HandlerFunc(noBackend)
	}
	return rt
}

// ServeHTTP dispatches on the exact path.
func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h, ok := rt.exact[r.URL.Path]; ok {
		h.ServeHTTP(w, r)
		return
	}
	rt.fallback.ServeHTTP(w, r)
}

// noBackend answers for the proxy until one is wired: the same 503 the
// proxy gives for an empty pool.
func noBackend(w http.ResponseWriter, _ *http.Request) {
	h := w.Header()
	h.Set("Retry-After", "1")
	h.Set("Cache-Control", "no-store")
	http.Error(w, "no backend", http.StatusServiceUnavailable)
}

func notProxied(w http.ResponseWriter, _ *http.Request) {
	http.Error(w, "not found: switchboard runs in tracker-only mode and proxies no path", http.StatusNotFound)
}

func unavailable(name string) http.Handler {
	msg := "switchboard: " + name + " is not available"
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "1")
		http.Error(w, msg, http.StatusServiceUnavailable)
	})
}
