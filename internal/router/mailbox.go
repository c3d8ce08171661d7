package router

import "slices"

// mbEntry is one message waiting in one name's mailbox.
type mbEntry struct {
	name string
	d    *Delivery
	size int64
	dead bool // removed from its mailbox (flushed or dropped); still in fifo until compacted
}

// mailbox is one name's queue, oldest first.
type mailbox struct {
	q      []*mbEntry
	bytes  int64
	warned bool // a limit drop was logged for this mailbox
}

// mailboxes holds every name's mailbox and the global byte bound. Not safe
// for concurrent use: Router.mbMu guards it.
type mailboxes struct {
	perMsgs  int
	perBytes int64
	total    int64 // limit
	totalMsg int   // limit of live

	byName map[string]*mailbox
	fifo   []*mbEntry // every entry in arrival order, dead ones included until compacted
	live   int
	dead   int
	bytes  int64 // payload bytes held
}

func newMailboxes(cfg Config) *mailboxes {
	return &mailboxes{perMsgs: cfg.MailboxMessages, perBytes: cfg.MailboxBytes,
		total: cfg.MailboxTotalBytes, totalMsg: cfg.MailboxTotalMessages, byName: make(map[string]*mailbox)}
}

// add inserts d into name's mailbox, in the order of d.seq (routing order:
// usually at the end; a message given back by a failed flush goes before
// newer ones), then drops the oldest messages, of that name and then of all
// names, while the limits are exceeded. It returns how many messages were
// dropped, whether d itself is still held, and whether this is the first
// drop from name's mailbox since it was created (to log once).
func (m *mailboxes) add(name string, d *Delivery) (dropped int, kept, firstDrop bool) {
	size := d.size()
	if size > m.perBytes || size > m.total || m.perMsgs <= 0 {
		return 1, false, false
	}
	mb := m.byName[name]
	if mb == nil {
		mb = &mailbox{}
		m.byName[name] = mb
	}
	e := &mbEntry{name: name, d: d, size: size}
	i := len(mb.q)
	for i > 0 && mb.q[i-1].d.seq > d.seq {
		i--
	}
	mb.q = slices.Insert(mb.q, i, e)
	mb.bytes += size
	m.fifo = append(m.fifo, e)
	m.live++
	m.bytes += size
	for len(mb.q) > m.perMsgs || mb.bytes > m.perBytes {
		m.dropFront(name, mb)
		dropped++
	}
	for m.bytes > m.total || m.live > m.totalMsg {
		m.dropGlobal(mb)
		dropped++
	}
	m.compact()
	if dropped > 0 && !mb.warned {
		mb.warned, firstDrop = true, true
	}
	return dropped, !e.dead, firstDrop
}

// dropFront drops the oldest message of name's mailbox mb.
func (m *mailboxes) dropFront(name string, mb *mailbox) {
	m.kill(mb, mb.q[0])
	mb.q[0] = nil
	mb.q = mb.q[1:]
}

// dropGlobal drops the oldest message of the mailbox that holds the
// longest-held message, deleting that mailbox if it empties (unless it is
// keep, which the caller is about to append to).
func (m *mailboxes) dropGlobal(keep *mailbox) {
	name := m.oldest().name
	owner := m.byName[name]
	m.dropFront(name, owner)
	if len(owner.q) == 0 && owner != keep {
		delete(m.byName, name)
	}
}

// take removes name's mailbox and returns its messages, oldest first.
func (m *mailboxes) take(name string) []*Delivery {
	mb := m.byName[name]
	if mb == nil {
		return nil
	}
	delete(m.byName, name)
	ds := make([]*Delivery, len(mb.q))
	for i, e := range mb.q {
		ds[i] = e.d
		m.kill(mb, e)
	}
	m.compact()
	return ds
}

// len returns the number of messages in name's mailbox.
func (m *mailboxes) len(name string) int {
	if mb := m.byName[name]; mb != nil {
		return len(mb.q)
	}
	return 0
}

// oldest pops dead entries off the global queue and returns the oldest live
// one. There must be one.
func (m *mailboxes) oldest() *mbEntry {
	for m.fifo[0].dead {
		m.fifo[0] = nil
		m.fifo = m.fifo[1:]
		m.dead--
	}
	return m.fifo[0]
}

func (m *mailboxes) kill(mb *mailbox, e *mbEntry) {
	e.dead = true
	m.live--
	m.dead++
	m.bytes -= e.size
	mb.bytes -= e.size
}

// compact rebuilds the global queue when dead entries dominate it, so its
// length stays proportional to what is held.
func (m *mailboxes) compact() {
	if m.dead < 64 || m.dead < m.live {
		return
	}
	fifo := make([]*mbEntry, 0, m.live)
	for _, e := range m.fifo {
		if !e.dead {
			fifo = append(fifo, e)
		}
	}
	m.fifo, m.dead = fifo, 0
}
