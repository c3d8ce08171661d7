package router

import (
	"encoding/json"
	"sync/atomic"
)

// Delivery is one message as one receiving session gets it. For room and
// public messages a single *Delivery is shared by every receiver (encode
// once); for direct messages each receiving session gets its own, listing in
// To the recipients it holds. Receivers must treat every field as read-only.
type Delivery struct {
	ID          string          // unique message ID (NodeID-counter), the same for every receiver
	From        string          // sender's user name as it declared it, "" if none
	Backend     string          // sender backend's address, set by Switchboard
	To          []string        // recipients held by this receiver; nil for room and public messages
	Room        string          // room of a room message, "" otherwise
	Data        json.RawMessage // the sender's payload, never decoded here
	Attachments [][]byte        // binary attachments Data refers to

	seq     uint64 // routing order on this node (the counter in ID)
	encoded atomic.Pointer[Encoded]
}

// Encoded is the transport encoding of a Delivery, computed once and shared
// by every receiver. The router never reads it; the transport decides its
// content (control stores a *sio.Encoded: the Socket.IO EVENT packet and
// its binary attachments).
type Encoded struct {
	Value any
}

// Encode returns enc(d), calling enc at most once per Delivery in the common
// case (two receivers racing on the first call may both compute it; one
// result wins and is returned to both). Safe for concurrent use. A failed
// enc is not cached.
func (d *Delivery) Encode(enc func(*Delivery) (*Encoded, error)) (*Encoded, error) {
	if e := d.encoded.Load(); e != nil {
		return e, nil
	}
	e, err := enc(d)
	if err != nil {
		return nil, err
	}
	if d.encoded.CompareAndSwap(nil, e) {
		return e, nil
	}
	return d.encoded.Load(), nil
}

// size is what the Delivery counts against mailbox byte limits.
func (d *Delivery) size() int64 {
	n := int64(len(d.Data))
	for _, a := range d.Attachments {
		n += int64(len(a))
	}
	return n
}

// forName returns a copy of d addressed to name alone (for a mailbox).
func (d *Delivery) forName(name string) *Delivery {
	return &Delivery{ID: d.ID, From: d.From, Backend: d.Backend, To: []string{name},
		Room: d.Room, Data: d.Data, Attachments: d.Attachments, seq: d.seq}
}

// For returns a copy of d addressed to names alone (a subset of d.To),
// keeping its routing order, e.g. for Redeliver of the recipients a backend
// reported missing.
func (d *Delivery) For(names []string) *Delivery {
	c := *d.forName("")
	c.To = names
	return &c
}
