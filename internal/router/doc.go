// Package router is the transport-independent brain of the message hub
// (issue 4): it keeps the table of live backend sessions, claims and
// releases names through engine.Presence, records room membership through
// engine.Rooms, and routes each message to the sessions that must receive
// it — direct (to the holders of the names in `to`), room (to the sessions
// that joined it, sender excluded) or public (to every session, sender
// excluded). Messages for orphaned names wait in bounded per-name mailboxes
// that are flushed, in order and before any newer message, to the session
// that claims the name again.
//
// It owns: the session table, mailboxes, message IDs, name validation and
// the counters in Stats. It does not own the wire (package control decodes
// the /list events, acks, encodes Deliveries), the name table itself (the
// engine), or delivery queues and backpressure (Session.Deliver).
//
// # Locks
//
// Router.sessMu serialises writers of the copy-on-write session table
// (readers load an atomic pointer). names[i] (a stripe chosen by hashing the
// name) serialises every presence decision about one name: Claim holds it
// across Presence.Join and taking the mailbox, Route across Presence.Lookup
// and the append to the mailbox, expiry across the final Lookup and the
// drop. That is what makes "mailbox before any newer message" hold: a claim
// that takes a mailbox raises its session's gate (entry.gateMu, entry.flushing)
// before releasing the stripe, and deliveries to a gated session queue
// behind the flush. Lock order: sessMu is never held with another lock;
// names[i] → mbMu and names[i] → entry.gateMu (mbMu and gateMu are never
// held together). At most one stripe is held at a time. No lock is held
// across Session.Deliver, a log call, or an engine call other than the
// per-name Presence calls named above.
//
// Mailboxes keep messages in routing order (the sequence number in the
// message ID), so messages given back by a flush whose session died go in
// front of newer ones.
package router
