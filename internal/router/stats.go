package router

import "sync/atomic"

// counters are the Router's monotonic counters.
type counters struct {
	routed, deliveries, deliverFailed, held, flushed atomic.Uint64
	droppedFull, droppedExpired, undeliverable       atomic.Uint64
}

// Stats is a snapshot of the Router's counters (monotonic since New) and
// gauges (current values).
type Stats struct {
	Routed         uint64 // messages accepted by Route
	Deliveries     uint64 // Deliveries accepted by sessions (one per receiving session), flushes included
	DeliverFailed  uint64 // Session.Deliver errors
	Held           uint64 // messages put in a name's mailbox
	Flushed        uint64 // mailbox messages delivered after a claim
	DroppedFull    uint64 // mailbox messages dropped, oldest first, by the mailbox limits (or too large alone)
	DroppedExpired uint64 // mailbox messages dropped when the grace ended or the name was released
	Undeliverable  uint64 // direct messages whose session failed and whose name nobody held any more
	Sessions       int    // registered sessions
	MailboxNames   int    // names with a mailbox
	MailboxMsgs    int    // messages in mailboxes
	MailboxBytes   int64  // payload bytes in mailboxes
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (r *Router) Stats() Stats {
	s := Stats{
		Routed:         r.st.routed.Load(),
		Deliveries:     r.st.deliveries.Load(),
		DeliverFailed:  r.st.deliverFailed.Load(),
		Held:           r.st.held.Load(),
		Flushed:        r.st.flushed.Load(),
		DroppedFull:    r.st.droppedFull.Load(),
		DroppedExpired: r.st.droppedExpired.Load(),
		Undeliverable:  r.st.undeliverable.Load(),
		Sessions:       len(r.sessions.Load().list),
	}
	r.mbMu.Lock()
	s.MailboxNames, s.MailboxMsgs, s.MailboxBytes = len(r.mb.byName), r.mb.live, r.mb.bytes
	r.mbMu.Unlock()
	return s
}
