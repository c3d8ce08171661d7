package msgroute

import (
	"context"
	"net/http"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/router"
)

// UserKey says where an ordinary request names its user; the first one set
// and present wins (query parameter, then header, then cookie). The zero
// value names no user.
type UserKey struct {
	Query  string
	Header string
	Cookie string
}

// Enabled reports whether any source is configured.
func (k UserKey) Enabled() bool { return k.Query != "" || k.Header != "" || k.Cookie != "" }

// Name returns the user r names, or "".
func (k UserKey) Name(r *http.Request) string {
	if k.Query != "" {
		if v := r.URL.Query().Get(k.Query); v != "" {
			return v
		}
	}
	if k.Header != "" {
		if v := r.Header.Get(k.Header); v != "" {
			return v
		}
	}
	if k.Cookie != "" {
		if c, err := r.Cookie(k.Cookie); err == nil && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// Affinity is a balance.Policy: a request naming a user (UserKey) goes to
// the backend holding that user when it is available (not draining, not in
// its retry back-off); otherwise — no user, unknown or orphaned user, or a
// request the proxy's fast path forwards without an *http.Request — next
// decides. Safe for concurrent use.
type Affinity struct {
	key  UserKey
	rt   *router.Router
	reg  *backend.Registry
	next balance.Policy
}

var _ balance.Policy = (*Affinity)(nil)

// NewAffinity wraps next with user affinity.
func NewAffinity(key UserKey, rt *router.Router, reg *backend.Registry, next balance.Policy) *Affinity {
	return &Affinity{key: key, rt: rt, reg: reg, next: next}
}

// Pick implements balance.Policy.
func (a *Affinity) Pick(pool []*backend.Backend, r *http.Request) *backend.Backend {
	if r != nil {
		if name := a.key.Name(r); name != "" {
			if exists, _, h, err := a.rt.Lookup(context.Background(), name); err == nil && exists && !h.Orphaned {
				if b := a.reg.Get(h.Backend); b != nil && b.Available() && inPool(pool, b) {
					return b
				}
			}
		}
	}
	return a.next.Pick(pool, r)
}

func inPool(pool []*backend.Backend, b *backend.Backend) bool {
	for _, x := range pool {
		if x == b {
			return true
		}
	}
	return false
}
