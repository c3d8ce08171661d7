package proxy

import (
	"net/http"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// ServeBackend forwards r to backend b and no other: no policy, no retry on
// another backend (the message route uses it to reach the backend holding a
// user). Header handling, the loop guard's Via and streaming are those of
// ServeHTTP, and so is the retry policy's one retry on b itself (an
// idempotent request that met a stale pooled connection). A refused dial
// or a connection that dies before the response gives 502; a timeout 504.
func (p *Proxy) ServeBackend(w http.ResponseWriter, r *http.Request, b *backend.Backend) {
	f := p.forwardedFor(r)
	upgrade := upgradeType(r.Header)
	rt := p.newRetries(nil, b) // b only, like a sticky request
	var res attempt
	for {
		nb, fresh := rt.next(r)
		if nb == nil {
			break
		}
		res = p.forward(w, r, nb, upgrade, false, &f, fresh)
		if res.out == outDone || res.out == outFail || rt.failed(nb, res) != retryNext {
			break
		}
	}
	switch {
	case res.out == outDone:
	case res.out == outFail:
		p.writeError(w, res.status, http.StatusText(res.status))
	case isTimeout(res.err):
		p.writeError(w, http.StatusGatewayTimeout, "backend timeout")
	default:
		p.writeError(w, http.StatusBadGateway, "backend unavailable")
	}
}
