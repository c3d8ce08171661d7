package router

import "sync/atomic"

// counters are the Router's monotonic counters.
type counters struct {
	routed, deliveries, deliverFailed, held, flushed atomic.Uint64
	droppedFull, droppedExpired, undeliverable       atomic.Uint64
	pendingWaits                                     atomic.Uint64
}

// Stats is a snapshot of the Router's counters (monotonic since New) and
// gauges (current values).
type Stats struct {
	Routed         uint64 `json:"routed"`                          // messages accepted by Route
	Deliveries     uint64 `json:"deliveries"`                      // Deliveries accepted by sessions (one per receiving session), flushes included
	DeliverFailed  uint64 `json:"deliver_failed"`                  // Session.Deliver errors
	Held           uint64 `json:"held"`                            // messages put in a name's mailbox
	Flushed        uint64 `json:"flushed"`                         // mailbox messages delivered after a claim
	DroppedFull    uint64 `json:"dropped_full"`                    // mailbox messages dropped, oldest first, by the mailbox limits (or too large alone)
	DroppedExpired uint64 `json:"dropped_expired"`                 // mailbox messages dropped when the grace ended or the name was released
	Undeliverable  uint64 `json:"undeliverable"`                   // direct messages whose session failed and whose name nobody held any more
	PendingWaits   uint64 `json:"pending_waits"`                   // times a sender waited for a session's mailbox flush (its queue behind the flush full)
	Sessions       int    `json:"sessions" metric:"gauge"`         // registered sessions
	MailboxNames   int    `json:"mailbox_names" metric:"gauge"`    // names with a mailbox
	MailboxMsgs    int    `json:"mailbox_messages" metric:"gauge"` // messages in mailboxes
	MailboxBytes   int64  `json:"mailbox_bytes" metric:"gauge"`    // payload bytes in mailboxes
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
		PendingWaits:   r.st.pendingWaits.Load(),
		Sessions:       len(r.sessions.Load().list),
	}
	r.mbMu.Lock()
	s.MailboxNames, s.MailboxMsgs, s.MailboxBytes = len(r.mb.byName), r.mb.live, r.mb.bytes
	r.mbMu.Unlock()
	return s
}
