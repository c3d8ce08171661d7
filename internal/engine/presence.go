package engine

import (
	"context"
	"time"
)

// Holder describes who holds a name.
type Holder struct {
	// Backend is the ID of the backend session that claimed the name (for
	// an orphaned name: the session that held it before it ended).
	Backend string
	// Orphaned is true between the end of the holder's session and the end
	// of the grace period: any backend may claim the name, and messages for
	// it are kept in a mailbox by the router.
	Orphaned bool
	// Since is when the name was claimed or, if Orphaned, when it was
	// orphaned.
	Since time.Time
	// Until is when an orphaned name is freed (zero while live).
	Until time.Time
}

// ExpireFunc is called by a Presence, outside its locks, after an orphaned
// name's grace period ended and the name was freed; h is the orphaned holder
// it had. It must not block for long (at most a log line and a map delete).
type ExpireFunc func(name string, h Holder)

// Presence is the cluster-wide table of names: one holder per name, claims
// atomic under concurrency from any node. Names of a session that ended are
// orphaned for a grace period during which any backend may claim them; when
// it ends they are freed and the ExpireFunc given to the implementation's
// constructor is called once per name.
//
// All methods are safe for concurrent use. Lookup is on every message's path
// and must be answered from local state without I/O (a NATS engine keeps a
// watched replica); the other methods may do I/O bounded by ctx.
type Presence interface {
	// Join claims name for backendID. It succeeds when the name is free
	// (prev is the zero Holder), orphaned (prev is the orphaned holder,
	// prev.Orphaned is true: the caller flushes the name's mailbox to the
	// new holder), or already held live by backendID (idempotent; prev is
	// the current holder, prev.Backend == backendID). A name held live by
	// another backend fails with a *TakenError (errors.Is ErrNameTaken).
	// Of concurrent Joins of one free or orphaned name, exactly one wins.
	Join(ctx context.Context, name, backendID string) (prev Holder, err error)
	// Leave releases name. Only its live holder may: ErrNotFound if the
	// name is free, ErrNotHolder if another backend holds it or it is
	// orphaned.
	Leave(ctx context.Context, name, backendID string) error
	// Lookup returns the holder of name, or ErrNotFound if it is free.
	Lookup(ctx context.Context, name string) (Holder, error)
	// OrphanBackend orphans every name held live by backendID until
	// now+grace and returns them (in no particular order). Calling it
	// again returns nothing new. A grace <= 0 frees the names at once
	// (the ExpireFunc is still called for each).
	OrphanBackend(ctx context.Context, backendID string, grace time.Duration) (names []string, err error)
	// Names returns the names held live by backendID, in no particular
	// order.
	Names(ctx context.Context, backendID string) ([]string, error)
	// Close stops the grace timers, waits for running ExpireFunc calls and
	// makes later calls fail with ErrClosed. Idempotent.
	Close(ctx context.Context) error
}
