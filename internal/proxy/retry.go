package proxy

import (
	"net/http"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// retries is the retry policy of one request, shared by both front ends
// (ServeHTTP and the fast path): which backend each attempt goes to, and
// when a failed attempt ends the request.
//
//   - A refused dial (outDialFail): the next attempt goes to another backend.
//   - A connection that died before any response byte (outDeadEarly) on a
//     pooled connection: once, the same backend on a new connection (the
//     backend may just have closed it: its keep-alive timeout). Otherwise
//     another backend, once; a second such death ends the request (502).
//   - A sticky request (Engine.IO sid) has only its session's backend: when
//     that fails, the session is lost.
//
// At most MaxAttempts attempts are made in all.
type retries struct {
	p      *Proxy
	pool   []*backend.Backend
	sticky *backend.Backend
	tried  [8]*backend.Backend
	ntried int
	n      int              // attempts made
	dead   bool             // a connection died early once already
	fresh  bool             // the stale-connection retry was used
	again  *backend.Backend // the next attempt's backend, on a new connection
	first  *backend.Backend // the next attempt's backend, picked already (redo)
}

// retryVerdict is what a failed attempt means for the request.
type retryVerdict int

const (
	retryNext        retryVerdict = iota // try again (next may still find no backend)
	retryGiveUpDead                      // a second connection died early: 502
	retryGiveUpStick                     // the sticky session's backend failed: session lost
)

func (p *Proxy) newRetries(pool []*backend.Backend, sticky *backend.Backend) retries {
	return retries{p: p, pool: pool, sticky: sticky}
}

// next returns the backend for the next attempt and whether it must use a
// new connection, or nil when the attempts or the backends are used up.
// r is the request for the policy (nil on the fast path).
func (rt *retries) next(r *http.Request) (b *backend.Backend, fresh bool) {
	if rt.n >= rt.p.cfg.MaxAttempts {
		return nil, false
	}
	rt.n++
	switch {
	case rt.first != nil:
		b, rt.first = rt.first, nil
		return b, false
	case rt.again != nil:
		b, rt.again = rt.again, nil
		return b, true
	case rt.sticky != nil:
		return rt.sticky, false
	}
	return rt.p.pick(rt.pool, r, rt.tried[:rt.ntried]), false
}

// redo takes back the attempt next just gave for b: the next call gives b
// again, counted once.
func (rt *retries) redo(b *backend.Backend) {
	rt.n--
	rt.first = b
}

// failed records a failed attempt through b (a.out is outDialFail or
// outDeadEarly) and says whether the request goes on.
func (rt *retries) failed(b *backend.Backend, a attempt) retryVerdict {
	if a.out == outDeadEarly {
		if a.reused && !rt.fresh {
			// A stale pooled connection says nothing about the backend
			// (and keeps a sticky session alive).
			rt.fresh, rt.again = true, b
			rt.p.st.retries.Add(1)
			return retryNext
		}
		if rt.dead {
			return retryGiveUpDead
		}
		rt.dead = true
	}
	if rt.sticky != nil {
		return retryGiveUpStick
	}
	if rt.ntried < len(rt.tried) {
		rt.tried[rt.ntried] = b
		rt.ntried++
	}
	rt.p.st.retries.Add(1)
	return retryNext
}

// exhausted is the answer once the attempts ran out without a response:
// no backend to try (503, with Retry-After), a timeout (504), or 502.
func exhausted(last attempt) (status int, msg string) {
	switch {
	case last.err == nil:
		return http.StatusServiceUnavailable, "no backend available"
	case isTimeout(last.err):
		return http.StatusGatewayTimeout, "backend timeout"
	}
	return http.StatusBadGateway, "backend unavailable"
}
