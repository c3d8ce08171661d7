package memory

import (
	"context"
	"slices"
	"sync"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// Rooms is the in-memory engine.Rooms. Safe for concurrent use; Members
// takes a read lock and returns a copy-on-write slice without copying.
type Rooms struct {
	mu        sync.RWMutex
	rooms     map[string][]string            // mu: room → member backend IDs (replaced, never modified)
	byBackend map[string]map[string]struct{} // mu: backend ID → its rooms
	closed    bool                           // mu
}

var _ engine.Rooms = (*Rooms)(nil)

// NewRooms returns an empty Rooms.
func NewRooms() *Rooms {
	return &Rooms{rooms: make(map[string][]string), byBackend: make(map[string]map[string]struct{})}
}

// Join implements engine.Rooms.
func (r *Rooms) Join(_ context.Context, room, backendID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return engine.ErrClosed
	}
	mine := r.byBackend[backendID]
	if _, ok := mine[room]; ok {
		return nil
	}
	if mine == nil {
		mine = make(map[string]struct{})
		r.byBackend[backendID] = mine
	}
	mine[room] = struct{}{}
	old := r.rooms[room]
	r.rooms[room] = append(slices.Clip(old), backendID) // Clip: never write into a slice a reader holds
	return nil
}

// Leave implements engine.Rooms.
func (r *Rooms) Leave(_ context.Context, room, backendID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return engine.ErrClosed
	}
	mine := r.byBackend[backendID]
	if _, ok := mine[room]; !ok {
		return nil
	}
	delete(mine, room)
	if len(mine) == 0 {
		delete(r.byBackend, backendID)
	}
	r.removeLocked(room, backendID)
	return nil
}

// removeLocked drops backendID from room's member list. r.mu must be held.
func (r *Rooms) removeLocked(room, backendID string) {
	old := r.rooms[room]
	if len(old) <= 1 {
		delete(r.rooms, room)
		return
	}
	members := make([]string, 0, len(old)-1)
	for _, id := range old {
		if id != backendID {
			members = append(members, id)
		}
	}
	r.rooms[room] = members
}

// Members implements engine.Rooms.
func (r *Rooms) Members(_ context.Context, room string) ([]string, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.closed {
		return nil, engine.ErrClosed
	}
	return r.rooms[room], nil
}

// DropBackend implements engine.Rooms.
func (r *Rooms) DropBackend(_ context.Context, backendID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return engine.ErrClosed
	}
	for room := range r.byBackend[backendID] {
		r.removeLocked(room, backendID)
	}
	delete(r.byBackend, backendID)
	return nil
}

// Close implements engine.Rooms.
func (r *Rooms) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	return nil
}
