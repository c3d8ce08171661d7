package engine

import "context"

// Rooms records which backend sessions declared members in which room
// (join_room / leave_room on the /list channel). A room's messages go only
// to its member sessions (the isolation the original README mentions).
//
// All methods are safe for concurrent use. Members is on every room
// message's path and must be answered from local state without I/O.
type Rooms interface {
	// Join adds backendID to room. Idempotent.
	Join(ctx context.Context, room, backendID string) error
	// Leave removes backendID from room. Leaving a room one is not in is
	// not an error.
	Leave(ctx context.Context, room, backendID string) error
	// Members returns the backend IDs in room, in no particular order; nil
	// for an empty or unknown room. The slice is shared: callers must not
	// modify it.
	Members(ctx context.Context, room string) ([]string, error)
	// DropBackend removes backendID from every room (its session ended).
	DropBackend(ctx context.Context, backendID string) error
	// Close makes later calls fail with ErrClosed. Idempotent.
	Close(ctx context.Context) error
}
