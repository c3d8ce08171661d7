package router

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// Session is one live backend session as the router sees it (control's
// /list connection). Implementations must be safe for concurrent use.
type Session interface {
	// BackendID identifies the session; unique among live sessions, never
	// reused by a later session.
	BackendID() string
	// Address is the backend's announced address (http://host:port),
	// copied into Delivery.Backend of the messages it sends.
	Address() string
	// Deliver hands d to the session's outbound queue. It may block while
	// the queue is full (backpressure: the sender's read loop pauses) and
	// returns an error if the session is gone or stalled past its bound;
	// the router then keeps d's direct recipients in mailboxes. d is
	// shared (see Delivery) and must not be modified. ctx is the one the
	// router call that delivers it was given (values the caller put there
	// reach the session, e.g. the channel's write batching); Deliver does
	// not need to honour its deadline.
	Deliver(ctx context.Context, d *Delivery) error
}

// Errors of the router, with their channel codes (engine.Code).
var (
	// ErrNotRegistered: the session has not been registered (it has not
	// announced its address), code NOT_REGISTERED.
	ErrNotRegistered = engine.NewCodeError("NOT_REGISTERED", "router: session not registered")
	// ErrDuplicate: a session with that BackendID is already registered,
	// code DUPLICATE_SESSION.
	ErrDuplicate = engine.NewCodeError("DUPLICATE_SESSION", "router: backend ID already registered")
	// ErrBadMessage: the message is malformed (e.g. both to and room),
	// code BAD_MESSAGE.
	ErrBadMessage = engine.NewCodeError("BAD_MESSAGE", "router: bad message")
	// errGone: the session was unregistered while a delivery was on its way.
	errGone = errors.New("router: session gone")
)

// entry is a registered session and its flush gate.
type entry struct {
	s    Session
	id   string
	addr string

	// flushing counts claims of this session whose mailbox flush is not
	// finished; while it is non-zero new deliveries wait in pending. It is
	// written under gateMu and may be read without it (fast path).
	flushing atomic.Int32
	gateMu   sync.Mutex
	pending  []*Delivery   // gateMu; at most maxPending
	gone     bool          // gateMu: unregistered
	room     chan struct{} // gateMu: closed when pending is taken, or the gate opens (senders waiting on a full pending)
}

// maxPending bounds the deliveries that wait behind a session's mailbox
// flush; a sender past it waits for the flush (backpressure, as a full
// session queue does), so the wait costs memory only up to the bound.
const maxPending = 4096

// wakeLocked releases the senders waiting for room in pending. Called
// with gateMu held.
func (e *entry) wakeLocked() {
	if e.room != nil {
		close(e.room)
		e.room = nil
	}
}

// table is an immutable snapshot of the registered sessions.
type table struct {
	byID map[string]*entry
	list []*entry
}

func (t *table) get(id string) *entry { return t.byID[id] }
