package balance

import (
	"errors"
	"net/http"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// ErrNoBackend is returned by callers when Pick finds no available backend.
var ErrNoBackend = errors.New("balance: no available backend")

// Policy picks the backend for a request. Pick returns an Available backend
// of pool or nil; it does no I/O, takes no lock beyond what its algorithm
// needs, and does not retain pool. r is nil when the proxy's fast path
// forwards a request without building an *http.Request; a policy that
// needs request data must then fall back to a request-independent choice.
// Implementations are safe for concurrent use.
type Policy interface {
	Pick(pool []*backend.Backend, r *http.Request) *backend.Backend
}
