package engine

import (
	"context"
	"encoding/json"
)

// Message is a routed message between backends as engines carry it. The
// relay never decodes Data: it is the sender's JSON value, passed through
// byte for byte; binary arguments ride in Attachments (Data then holds the
// Socket.IO placeholders that index them).
type Message struct {
	ID          string          // unique per cluster, set by the router of the sender's node
	From        string          // sender's user name, "" if none
	Backend     string          // sender backend's address, set by Switchboard
	To          []string        // recipient names ("" / nil for room or public messages)
	Room        string          // room name for a room message
	Data        json.RawMessage // the payload, never decoded on the relay path
	Attachments [][]byte        // binary attachments referenced by Data
}

// Broker carries Messages between nodes on subjects.
//
// Delivery is at-most-once and in publish order per subscription (for
// publishes from one goroutine). Subjects are matched exactly. h is called
// sequentially per subscription and must not block: hand off to a bounded
// queue. After unsubscribe returns no new call of h starts (one already
// running may finish); unsubscribe may be called from inside h. The
// Message passed to h and its slices are shared with other subscribers and
// must not be modified.
type Broker interface {
	// Publish sends m to the current subscribers of subject.
	Publish(ctx context.Context, subject string, m Message) error
	// Subscribe calls h for every Message published on subject from now
	// on, until unsubscribe is called or the Broker is closed.
	Subscribe(ctx context.Context, subject string, h func(Message)) (unsubscribe func() error, err error)
	// Close ends every subscription; later calls fail with ErrClosed.
	// Idempotent.
	Close(ctx context.Context) error
}
