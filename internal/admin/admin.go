package admin

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// BackendInfo is one backend as /backends reports it.
type BackendInfo struct {
	// ID is the registry's id of the backend.
	ID string `json:"id"`
	// Address is the URL requests are proxied to.
	Address string `json:"address"`
	// URL is the public URL announced for browsers (empty: Address).
	URL string `json:"url,omitempty"`
	// Weight is the balancing weight (≥ 1).
	Weight int `json:"weight"`
	// Session is the Socket.IO id of the /list channel session that
	// registered the backend (its socket.id); empty for static backends.
	Session string `json:"session,omitempty"`
	// Since is when the backend joined the pool.
	Since time.Time `json:"since"`
	// InFlight counts requests being proxied to it now.
	InFlight int64 `json:"in_flight"`
	// Tunnels counts open upgraded connections (WebSocket) to it.
	Tunnels int64 `json:"tunnels"`
	// Draining is true once the backend asked for no new work.
	Draining bool `json:"draining"`
	// Healthy is false while the backend fails its active health checks
	// (always true when none run).
	Healthy bool `json:"healthy"`
	// Static is true for backends from the configuration.
	Static bool `json:"static"`
}

// Pool is what the admin handler reads. Backends returns a snapshot the
// caller may keep; it must be safe for concurrent use and must not block.
type Pool interface {
	Backends() []BackendInfo
}

// PoolFunc adapts a function to Pool.
type PoolFunc func() []BackendInfo

// Backends calls f.
func (f PoolFunc) Backends() []BackendInfo { return f() }

// Handler serves the admin endpoints. It is safe for concurrent use.
type Handler struct {
	pool     Pool
	draining func() bool
	stats    func() any
	mux      *http.ServeMux
}

// New returns the admin handler. pool may be nil (an empty list);
// draining reports whether the node is shutting down (nil: never); stats
// returns the node's counters as a JSON-encodable snapshot (nil: none).
// New starts no goroutines.
func New(pool Pool, draining func() bool, stats func() any) *Handler {
	h := &Handler{pool: pool, draining: draining, stats: stats, mux: http.NewServeMux()}
	h.mux.HandleFunc("GET /healthz", h.healthz)
	h.mux.HandleFunc("GET /backends", h.backends)
	h.mux.HandleFunc("GET /stats", h.statsJSON)
	h.mux.HandleFunc("GET /metrics", h.metrics)
	h.mux.HandleFunc("GET /{$}", h.index)
	return h
}

// maxRequestBytes bounds what an admin request may carry: the endpoints
// take no body.
const maxRequestBytes = 1 << 10

// ServeHTTP implements http.Handler. Only GET and HEAD are served; a
// request with a body is refused with 413.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "read-only: GET or HEAD", http.StatusMethodNotAllowed)
		return
	}
	if r.ContentLength > maxRequestBytes {
		http.Error(w, "request body not accepted", http.StatusRequestEntityTooLarge)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxRequestBytes)
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if h.draining != nil && h.draining() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte("draining\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

func (h *Handler) backends(w http.ResponseWriter, _ *http.Request) {
	list := []BackendInfo{}
	if h.pool != nil {
		if got := h.pool.Backends(); got != nil {
			list = got
		}
	}
	list = slices.Clone(list)
	slices.SortStableFunc(list, func(a, b BackendInfo) int {
		return cmp.Or(cmp.Compare(a.Address, b.Address), cmp.Compare(a.ID, b.ID))
	})
	writeJSON(w, list)
}

func (h *Handler) statsJSON(w http.ResponseWriter, _ *http.Request) {
	var v any = struct{}{}
	if h.stats != nil {
		if got := h.stats(); got != nil {
			v = got
		}
	}
	writeJSON(w, v)
}

// writeJSON answers with v as indented JSON.
func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // a failed write means the client left
}

func (h *Handler) index(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("switchboard admin\n  GET /healthz   200 ok, 503 draining\n  GET /backends  the pool as JSON\n  GET /stats     proxy, channel, message and tracker counters as JSON\n  GET /metrics   the same and per-backend gauges, Prometheus text format\n"))
}
