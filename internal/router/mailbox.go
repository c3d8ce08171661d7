package router

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

	byName map[string]*mailbox
	fifo   []*mbEntry // every entry in arrival order, dead ones included until compacted
	live   int
	dead   int
	bytes  int64 // payload bytes held
}

func newMailboxes(cfg Config) *mailboxes {
	return &mailboxes{perMsgs: cfg.MailboxMessages, perBytes: cfg.MailboxBytes,
		total: cfg.MailboxTotalBytes, byName: make(map[string]*mailbox)}
}

// add appends d to name's mailbox, first dropping the oldest messages (of
// that name, then of all names) as the limits require. It returns how many
// messages were dropped, whether d itself was kept (false when d alone is
// over a limit), and whether this is the first drop from name's mailbox
// since it was created (to log once).
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
	for len(mb.q) > 0 && (len(mb.q) >= m.perMsgs || mb.bytes+size > m.perBytes) {
		m.kill(mb, mb.q[0])
		mb.q = mb.q[1:]
		dropped++
	}
	for m.bytes+size > m.total {
		e := m.oldest()
		owner := m.byName[e.name]
		m.kill(owner, e)
		owner.q = owner.q[1:] // the globally oldest live entry is its mailbox's oldest
		if len(owner.q) == 0 && owner != mb {
			delete(m.byName, e.name)
		}
		dropped++
	}
	m.compact()
	if dropped > 0 && !mb.warned {
		mb.warned, firstDrop = true, true
	}
	e := &mbEntry{name: name, d: d, size: size}
	mb.q = append(mb.q, e)
	mb.bytes += size
	m.fifo = append(m.fifo, e)
	m.live++
	m.bytes += size
	return dropped, true, firstDrop
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
