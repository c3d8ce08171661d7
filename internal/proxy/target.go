package proxy

import (
	"net/http"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// ServeBackend forwards r to backend b and no other: no policy, no retry on
// another backend (the message route uses it to reach the backend holding a
// user). Header handling, the loop guard's Via and streaming are those of
// ServeHTTP. An idempotent request that met a stale pooled connection is
// tried once more on a new one. A refused dial or a connection that dies
// before the response gives 502; a timeout 504.
func (p *Proxy) ServeBackend(w http.ResponseWriter, r *http.Request, b *backend.Backend) {
	f := p.forwardedFor(r)
	res := p.forward(w, r, b, upgradeType(r.Header), false, &f, false)
	if res.out == outDeadEarly && res.reused {
		// A stale pooled connection: once more on a new one.
		res = p.forward(w, r, b, upgradeType(r.Header), false, &f, true)
	}
	switch {
	case res.out == outDone:
	case res.out == outFail:
		writeError(w, res.status, http.StatusText(res.status))
	case isTimeout(res.err):
		writeError(w, http.StatusGatewayTimeout, "backend timeout")
	default:
		writeError(w, http.StatusBadGateway, "backend unavailable")
	}
}
