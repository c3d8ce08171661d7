package balance

import (
	"net/http"
	"sync"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// SmoothWRR is smooth weighted round-robin (the algorithm nginx uses): each
// pick adds every available backend's weight to its running score, chooses
// the highest score (first in pool order on ties) and subtracts the total
// weight from the winner. Over any window of sum(weights) picks each backend
// is chosen exactly weight times, interleaved: weights 5,1,1 give
// a a b a c a a. Unavailable backends are skipped and do not accumulate.
//
// The scores are kept per pool slice: a new snapshot from the registry
// carries the scores of the backends it still holds. Safe for concurrent use
// (one mutex held for the O(len(pool)) scan). The zero value is ready.
type SmoothWRR struct {
	mu    sync.Mutex         // guards all fields below
	prev  []*backend.Backend // the pool the scores belong to (registry snapshots are immutable)
	score []int64
}

var _ Policy = (*SmoothWRR)(nil)

// NewSmoothWRR returns a ready SmoothWRR.
func NewSmoothWRR() *SmoothWRR { return &SmoothWRR{} }

// Pick implements Policy.
func (p *SmoothWRR) Pick(pool []*backend.Backend, _ *http.Request) *backend.Backend {
	if len(pool) == 0 {
		return nil
	}
	if len(pool) == 1 {
		if pool[0].Available() {
			return pool[0]
		}
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.adopt(pool)
	var total int64
	best := -1
	for i, b := range pool {
		if !b.Available() {
			continue
		}
		w := int64(b.EffectiveWeight())
		p.score[i] += w
		total += w
		if best < 0 || p.score[i] > p.score[best] {
			best = i
		}
	}
	if best < 0 {
		return nil
	}
	p.score[best] -= total
	return pool[best]
}

// adopt makes p.score belong to pool, carrying over the scores of backends
// present in the previous pool. Called with p.mu held.
func (p *SmoothWRR) adopt(pool []*backend.Backend) {
	if len(pool) == len(p.prev) && &pool[0] == &p.prev[0] {
		return
	}
	old := make(map[*backend.Backend]int64, len(p.prev))
	for i, b := range p.prev {
		old[b] = p.score[i]
	}
	score := make([]int64, len(pool))
	for i, b := range pool {
		score[i] = old[b]
	}
	p.prev, p.score = pool, score
}
