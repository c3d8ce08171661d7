package proxy

import (
	"net/http"
	"sync/atomic"
)

// counters are the Proxy's monotonic counters: the answers it makes itself
// (not the backends'), retries and abandoned requests. Only failure paths
// touch them.
type counters struct {
	sessionUnknown, badGateway, unavailable, timeout, loop, other atomic.Uint64
	retries, clientGone                                           atomic.Uint64
}

// answered counts a response the proxy wrote itself.
func (c *counters) answered(status int) {
	switch status {
	case http.StatusBadRequest: // the only 400 the proxy makes: an unknown Engine.IO sid
		c.sessionUnknown.Add(1)
	case http.StatusBadGateway:
		c.badGateway.Add(1)
	case http.StatusServiceUnavailable:
		c.unavailable.Add(1)
	case http.StatusGatewayTimeout:
		c.timeout.Add(1)
	case http.StatusLoopDetected:
		c.loop.Add(1)
	default:
		c.other.Add(1)
	}
}

// Stats is a snapshot of the Proxy's counters (monotonic since New) and
// gauges. Responses the backends made are not counted here.
type Stats struct {
	SessionUnknown uint64 `json:"session_unknown"`                // 400 "Session ID unknown": a sid no backend is known for
	BadGateway     uint64 `json:"bad_gateway"`                    // 502 written by the proxy
	Unavailable    uint64 `json:"unavailable"`                    // 503: no backend to try, or shutting down
	GatewayTimeout uint64 `json:"gateway_timeout"`                // 504
	LoopDetected   uint64 `json:"loop_detected"`                  // 508
	OtherErrors    uint64 `json:"other_errors"`                   // other statuses the proxy wrote
	Retries        uint64 `json:"retries"`                        // attempts repeated on another backend or a fresh connection
	ClientGone     uint64 `json:"client_gone"`                    // requests abandoned by their client (logged as 499)
	Tunnels        int    `json:"tunnels" metric:"gauge"`         // open WebSocket (Upgrade) tunnels
	StickySessions int    `json:"sticky_sessions" metric:"gauge"` // Engine.IO sids pinned to a backend
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (p *Proxy) Stats() Stats {
	p.mu.Lock()
	tunnels := len(p.tunnels)
	p.mu.Unlock()
	return Stats{
		SessionUnknown: p.st.sessionUnknown.Load(),
		BadGateway:     p.st.badGateway.Load(),
		Unavailable:    p.st.unavailable.Load(),
		GatewayTimeout: p.st.timeout.Load(),
		LoopDetected:   p.st.loop.Load(),
		OtherErrors:    p.st.other.Load(),
		Retries:        p.st.retries.Load(),
		ClientGone:     p.st.clientGone.Load(),
		Tunnels:        tunnels,
		StickySessions: p.sticky.len(),
	}
}
