package router

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard-lb/switchboard/internal/engine"
)

// nameStripes is the number of per-name locks (a power of two).
const nameStripes = 256

// Router routes messages between registered backend sessions. All methods
// are safe for concurrent use. Create it with New.
type Router struct {
	cfg      Config
	presence engine.Presence
	rooms    engine.Rooms
	log      *slog.Logger
	seed     maphash.Seed

	sessMu   sync.Mutex            // serialises writers of sessions
	sessions atomic.Pointer[table] // copy-on-write; readers never lock

	names [nameStripes]sync.Mutex // per-name stripes, see doc.go

	mbMu sync.Mutex
	mb   *mailboxes // mbMu

	seq atomic.Uint64
	st  counters
}

// New returns a Router over the given engine parts. It starts no goroutine.
// The Presence's expiry callback must call the Router's OnExpire (construct
// the Presence with a closure over the Router variable). log may be nil.
func New(cfg Config, presence engine.Presence, rooms engine.Rooms, log *slog.Logger) *Router {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	r := &Router{cfg: cfg, presence: presence, rooms: rooms,
		log: log.With("component", "router"), seed: maphash.MakeSeed(), mb: newMailboxes(cfg)}
	r.sessions.Store(&table{byID: map[string]*entry{}})
	return r
}

// Config returns the Router's configuration with defaults applied.
func (r *Router) Config() Config { return r.cfg }

func (r *Router) stripe(name string) *sync.Mutex {
	return &r.names[maphash.String(r.seed, name)&(nameStripes-1)]
}

func (r *Router) nextID() (string, uint64) {
	n := r.seq.Add(1)
	var b strings.Builder
	b.Grow(len(r.cfg.NodeID) + 1 + 20)
	b.WriteString(r.cfg.NodeID)
	b.WriteByte('-')
	var buf [20]byte
	b.Write(strconv.AppendUint(buf[:0], n, 10))
	return b.String(), n
}

// Register adds s to the table of live sessions. ErrDuplicate if its
// BackendID is already registered.
func (r *Router) Register(s Session) error {
	r.sessMu.Lock()
	old := r.sessions.Load()
	id := s.BackendID()
	if old.byID[id] != nil {
		r.sessMu.Unlock()
		return fmt.Errorf("register %s: %w", id, ErrDuplicate)
	}
	t := &table{byID: make(map[string]*entry, len(old.byID)+1), list: make([]*entry, 0, len(old.list)+1)}
	for k, v := range old.byID {
		t.byID[k] = v
	}
	e := &entry{s: s, id: id, addr: s.Address()}
	t.byID[id] = e
	t.list = append(append(t.list, old.list...), e)
	r.sessions.Store(t)
	r.sessMu.Unlock()
	r.log.LogAttrs(context.Background(), slog.LevelInfo, "session registered",
		slog.String("backend_id", id), slog.String("backend_addr", e.addr))
	return nil
}

// Unregister removes the session id (it ended: disconnect, heartbeat
// timeout, replaced, stalled): its names become orphaned for Config.Grace,
// its room memberships are dropped, and direct messages queued behind a
// mailbox flush for it go to mailboxes. It returns the orphaned names.
// ErrNotRegistered if id is not registered. reason is logged.
func (r *Router) Unregister(ctx context.Context, id, reason string) ([]string, error) {
	r.sessMu.Lock()
	old := r.sessions.Load()
	e := old.byID[id]
	if e == nil {
		r.sessMu.Unlock()
		return nil, fmt.Errorf("unregister %s: %w", id, ErrNotRegistered)
	}
	t := &table{byID: make(map[string]*entry, len(old.byID)), list: make([]*entry, 0, len(old.list))}
	for k, v := range old.byID {
		if k != id {
			t.byID[k] = v
		}
	}
	for _, v := range old.list {
		if v != e {
			t.list = append(t.list, v)
		}
	}
	r.sessions.Store(t)
	r.sessMu.Unlock()

	e.gateMu.Lock()
	e.gone = true // pending is empty unless a flush runs; that flush gives it back
	e.wakeLocked()
	e.gateMu.Unlock()

	names, err := r.presence.OrphanBackend(ctx, id, r.cfg.Grace)
	if err != nil {
		err = fmt.Errorf("orphan names of %s: %w", id, err)
	}
	if rerr := r.rooms.DropBackend(ctx, id); rerr != nil {
		err = errors.Join(err, fmt.Errorf("drop rooms of %s: %w", id, rerr))
	}
	r.log.LogAttrs(ctx, slog.LevelInfo, "session unregistered",
		slog.String("backend_id", id), slog.String("backend_addr", e.addr),
		slog.String("reason", reason), slog.Int("orphaned", len(names)))
	return names, err
}

// session returns the registered entry for id, or nil.
func (r *Router) session(id string) *entry { return r.sessions.Load().get(id) }

// Message is a message as a backend sends it (the `message` event).
type Message struct {
	To          []string        // recipient names; nil for a room or public message
	Room        string          // room name for a room message
	From        string          // sender's user name as it declares it (not verified), optional
	Data        json.RawMessage // payload, one valid JSON value (the caller validated it), passed through untouched
	Attachments [][]byte        // binary attachments Data refers to
}

// Result is the outcome of Route, for the ack
// {ok:true, id, delivered, held, unknown}.
type Result struct {
	ID        string   // the message's ID
	Delivered []string // direct: names whose holder's session accepted it
	Held      []string // direct: orphaned names; kept in their mailbox
	Unknown   []string // direct: names nobody holds
	Dropped   []string // direct: names it could not be delivered or kept for (larger than a mailbox; holder vanished)
	Sessions  int      // sessions it was handed to
}

// Route sends m from the session from:
//   - m.To set: to the sessions holding those names, one Delivery per
//     session listing its recipients in To (a name held by the sender
//     itself is delivered to it); orphaned names are kept in mailboxes;
//     names nobody holds are reported in Unknown.
//   - m.Room set: to every session that joined the room, except from.
//   - neither: to every registered session except from.
//
// from may be nil for a message from outside the pool (the HTTP message
// route): it then excludes no session and its Backend is "".
//
// Route blocks while a receiving session's queue is full (backpressure).
// Errors: ErrNotRegistered, ErrBadMessage (both to and room, too many
// recipients), engine.ErrInvalidName (a recipient, the room or from), or an
// engine error; per-recipient
// outcomes are in the Result.
func (r *Router) Route(ctx context.Context, from Session, m Message) (Result, error) {
	var sender *entry
	addr := ""
	if from != nil {
		if sender = r.session(from.BackendID()); sender == nil {
			return Result{}, ErrNotRegistered
		}
		addr = sender.addr
	}
	switch {
	case len(m.To) > 0 && m.Room != "":
		return Result{}, fmt.Errorf("%w: both to and room", ErrBadMessage)
	case len(m.To) > r.cfg.MaxRecipients:
		return Result{}, fmt.Errorf("%w: %d recipients, more than %d", ErrBadMessage, len(m.To), r.cfg.MaxRecipients)
	}
	for _, name := range m.To {
		if err := ValidateName(name, r.cfg.MaxNameBytes); err != nil {
			return Result{}, fmt.Errorf("recipient: %w", err)
		}
	}
	if m.Room != "" {
		if err := ValidateName(m.Room, r.cfg.MaxNameBytes); err != nil {
			return Result{}, fmt.Errorf("room: %w", err)
		}
	}
	if m.From != "" {
		// Declared, not verified; but a name by the same rules, so no
		// receiver gets an oversized or control-laden sender name.
		if err := ValidateName(m.From, r.cfg.MaxNameBytes); err != nil {
			return Result{}, fmt.Errorf("from: %w", err)
		}
	}
	id, seq := r.nextID()
	res := Result{ID: id}
	r.st.routed.Add(1)
	base := &Delivery{ID: id, From: m.From, Backend: addr, Room: m.Room,
		Data: m.Data, Attachments: m.Attachments, seq: seq}
	switch {
	case len(m.To) > 0:
		return res, r.routeDirect(ctx, base, m.To, &res)
	case m.Room != "":
		members, err := r.rooms.Members(ctx, m.Room)
		if err != nil {
			return res, fmt.Errorf("room members: %w", err)
		}
		t := r.sessions.Load()
		for _, id := range members {
			if e := t.get(id); e != nil && e != sender && r.deliverTo(ctx, e, base) == nil {
				res.Sessions++
			}
		}
	default:
		for _, e := range r.sessions.Load().list {
			if e != sender && r.deliverTo(ctx, e, base) == nil {
				res.Sessions++
			}
		}
	}
	return res, nil
}

// group is the recipients of a direct message held by one session.
type group struct {
	e     *entry
	names []string
}

func (r *Router) routeDirect(ctx context.Context, base *Delivery, to []string, res *Result) error {
	var buf [4]group
	groups := buf[:0]
	var seen map[string]struct{}
	if len(to) > 16 {
		seen = make(map[string]struct{}, len(to))
	}
	for i, name := range to {
		if seen != nil {
			if _, dup := seen[name]; dup {
				continue
			}
			seen[name] = struct{}{}
		} else if i > 0 && contains(to[:i], name) {
			continue
		}
		mu := r.stripe(name)
		mu.Lock()
		h, err := r.presence.Lookup(ctx, name)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			mu.Unlock()
			res.Unknown = append(res.Unknown, name)
			continue
		case err != nil:
			mu.Unlock()
			return fmt.Errorf("lookup: %w", err)
		}
		e := r.session(h.Backend)
		if h.Orphaned || e == nil {
			// e == nil: its session is being unregistered; the name is
			// orphaned a moment later and the mailbox is what a claim flushes.
			o := r.holdLocked(name, base)
			mu.Unlock()
			r.logHold(name, o)
			if o.kept {
				res.Held = append(res.Held, name)
			} else {
				res.Dropped = append(res.Dropped, name)
			}
			continue
		}
		mu.Unlock()
		found := false
		for j := range groups {
			if groups[j].e == e {
				groups[j].names = append(groups[j].names, name)
				found = true
				break
			}
		}
		if !found {
			// The name's own element of to: no allocation, and capped, so
			// a second name for e appends to a copy.
			groups = append(groups, group{e: e, names: to[i : i+1 : i+1]})
		}
	}
	for i, g := range groups {
		d := base // the last group takes base itself: holds copied what they kept
		if i < len(groups)-1 {
			d = &Delivery{ID: base.ID, From: base.From, Backend: base.Backend,
				Data: base.Data, Attachments: base.Attachments, seq: base.seq}
		}
		d.To = g.names
		if err := r.deliverTo(ctx, g.e, d); err != nil {
			r.rehold(ctx, g.e.id, d, res)
			continue
		}
		res.Sessions++
		if res.Delivered == nil {
			res.Delivered = g.names[:len(g.names):len(g.names)] // shared, read-only; capped as above
		} else {
			res.Delivered = append(res.Delivered, g.names...)
		}
	}
	return nil
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// deliverTo hands d to e, or queues it behind a running mailbox flush;
// when maxPending deliveries wait there already, it waits for the flush to
// take them (or ctx to end).
func (r *Router) deliverTo(ctx context.Context, e *entry, d *Delivery) error {
	for e.flushing.Load() != 0 {
		e.gateMu.Lock()
		if e.gone {
			e.gateMu.Unlock()
			return errGone
		}
		if e.flushing.Load() == 0 {
			e.gateMu.Unlock()
			break
		}
		if len(e.pending) < maxPending {
			e.pending = append(e.pending, d)
			e.gateMu.Unlock()
			return nil
		}
		if e.room == nil {
			e.room = make(chan struct{})
		}
		room := e.room
		e.gateMu.Unlock()
		r.st.pendingWaits.Add(1)
		select {
		case <-room:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := e.s.Deliver(ctx, d); err != nil {
		r.st.deliverFailed.Add(1)
		return err
	}
	r.st.deliveries.Add(1)
	return nil
}

// holdLocked appends a copy of base for name to name's mailbox and counts
// it. The caller holds name's stripe and calls logHold after unlocking it.
func (r *Router) holdLocked(name string, base *Delivery) holdOutcome {
	r.mbMu.Lock()
	dropped, kept, first := r.mb.add(name, base.forName(name))
	r.mbMu.Unlock()
	if kept {
		r.st.held.Add(1)
	}
	if dropped > 0 {
		r.st.droppedFull.Add(uint64(dropped))
	}
	return holdOutcome{kept: kept, dropped: dropped, warn: dropped > 0 && (first || !kept)}
}

// holdOutcome is what holdLocked did.
type holdOutcome struct {
	kept    bool
	dropped int
	warn    bool // log it: first drop from this mailbox, or the message alone is too large
}

// logHold logs a mailbox drop (outside the stripe lock).
func (r *Router) logHold(name string, o holdOutcome) {
	if o.warn {
		r.log.LogAttrs(context.Background(), slog.LevelWarn, "mailbox full, dropping oldest",
			slog.String("user", name), slog.Int("dropped", o.dropped), slog.Bool("message_too_large", !o.kept))
	}
}

// rehold finds a new way for a direct Delivery d whose session failed
// (failedID): each recipient's message goes to its mailbox if the name is
// orphaned or still held by the failed session, to its new holder's session
// if another one claimed it meanwhile, else it is counted as undeliverable.
// res, if not nil, records the outcome.
func (r *Router) rehold(ctx context.Context, failedID string, d *Delivery, res *Result) {
	for _, name := range d.To {
		mu := r.stripe(name)
		mu.Lock()
		h, err := r.presence.Lookup(ctx, name)
		var e *entry
		if err == nil {
			e = r.session(h.Backend)
		}
		switch {
		case err != nil:
			mu.Unlock()
			r.st.undeliverable.Add(1)
			if res != nil {
				res.Dropped = append(res.Dropped, name)
			}
		case h.Orphaned || h.Backend == failedID || e == nil:
			o := r.holdLocked(name, d)
			mu.Unlock()
			r.logHold(name, o)
			if res != nil {
				if o.kept {
					res.Held = append(res.Held, name)
				} else {
					res.Dropped = append(res.Dropped, name)
				}
			}
		default:
			mu.Unlock()
			if r.deliverTo(ctx, e, d.forName(name)) != nil {
				r.st.undeliverable.Add(1)
				if res != nil {
					res.Dropped = append(res.Dropped, name)
				}
				continue
			}
			if res != nil {
				res.Delivered = append(res.Delivered, name)
				res.Sessions++
			}
		}
	}
}

// Claim makes session s the holder of name (join_subs). If the name was
// orphaned — or messages were otherwise kept for it — the returned flush
// delivers them to s in order; until flush has returned, every newer
// message for s waits behind them. The caller acks the claim first, then
// calls flush exactly once (also when the ack failed: flush is what
// releases the queue). flush is never nil; it may block (backpressure).
// prev is what engine.Presence.Join returned. Errors: engine.ErrInvalidName,
// ErrNotRegistered, an error matching engine.ErrNameTaken (errors.As a
// *engine.TakenError for the holder's backend ID; HolderAddress gives its
// address), or an engine error.
func (r *Router) Claim(ctx context.Context, s Session, name string) (prev engine.Holder, flush func(), err error) {
	if err := ValidateName(name, r.cfg.MaxNameBytes); err != nil {
		return engine.Holder{}, nil, err
	}
	e := r.session(s.BackendID())
	if e == nil {
		return engine.Holder{}, nil, ErrNotRegistered
	}
	mu := r.stripe(name)
	mu.Lock()
	prev, err = r.presence.Join(ctx, name, e.id)
	if err != nil {
		mu.Unlock()
		return prev, nil, err
	}
	if r.ended(e) {
		// Unregister ran meanwhile (another goroutine ended the session,
		// e.g. a replacement) and may have orphaned e's names before this
		// one joined: orphan it too, or a dead session would hold it live
		// for good.
		mu.Unlock()
		_, _ = r.presence.OrphanBackend(ctx, e.id, r.cfg.Grace)
		return prev, nil, ErrNotRegistered
	}
	r.mbMu.Lock()
	msgs := r.mb.take(name)
	r.mbMu.Unlock()
	if len(msgs) > 0 {
		e.gateMu.Lock()
		e.flushing.Add(1)
		e.gateMu.Unlock()
	}
	mu.Unlock()
	if len(msgs) == 0 {
		return prev, func() {}, nil
	}
	ctx = context.WithoutCancel(ctx)
	var once sync.Once
	return prev, func() { once.Do(func() { r.flush(ctx, e, msgs) }) }, nil
}

// flush delivers a claimed name's mailbox to e, then releases e's gate,
// delivering what waited behind it. What e fails to take (it ended
// meanwhile) goes back to mailboxes, where routing order (Delivery.seq)
// puts it before anything newer.
func (r *Router) flush(ctx context.Context, e *entry, msgs []*Delivery) {
	var back []*Delivery
	for i, d := range msgs {
		if err := e.s.Deliver(ctx, d); err != nil {
			r.st.deliverFailed.Add(1)
			back = append(back, msgs[i:]...)
			break
		}
		r.st.deliveries.Add(1)
		r.st.flushed.Add(1)
	}
	failed := len(back) > 0
	for {
		e.gateMu.Lock()
		if e.flushing.Load() > 1 { // another flush of e is running: it releases the queue
			e.flushing.Add(-1)
			e.gateMu.Unlock()
			break
		}
		if len(e.pending) == 0 {
			e.flushing.Store(0)
			e.wakeLocked()
			e.gateMu.Unlock()
			break
		}
		batch := e.pending
		e.pending = nil
		e.wakeLocked()
		failed = failed || e.gone
		e.gateMu.Unlock()
		for _, d := range batch {
			if !failed {
				if err := e.s.Deliver(ctx, d); err == nil {
					r.st.deliveries.Add(1)
					continue
				}
				r.st.deliverFailed.Add(1)
				failed = true
			}
			if len(d.To) > 0 { // room and public messages to a gone session are not kept
				back = append(back, d)
			}
		}
	}
	for _, d := range back {
		r.rehold(ctx, e.id, d, nil)
	}
}

// Release gives up name held by session s (leave_subs). Errors:
// engine.ErrInvalidName, ErrNotRegistered, engine.ErrNotHolder (another
// session holds it, or it is orphaned), engine.ErrNotFound (free).
func (r *Router) Release(ctx context.Context, s Session, name string) error {
	if err := ValidateName(name, r.cfg.MaxNameBytes); err != nil {
		return err
	}
	e := r.session(s.BackendID())
	if e == nil {
		return ErrNotRegistered
	}
	mu := r.stripe(name)
	mu.Lock()
	if err := r.presence.Leave(ctx, name, e.id); err != nil {
		mu.Unlock()
		return err
	}
	n := r.dropMailboxLocked(name)
	mu.Unlock()
	r.logDrop(name, "released", n)
	return nil
}

// dropMailboxLocked discards name's mailbox, if any, and counts it. The
// caller holds name's stripe and calls logDrop after unlocking it.
func (r *Router) dropMailboxLocked(name string) int {
	r.mbMu.Lock()
	msgs := r.mb.take(name)
	r.mbMu.Unlock()
	r.st.droppedExpired.Add(uint64(len(msgs)))
	return len(msgs)
}

func (r *Router) logDrop(name, why string, n int) {
	if n > 0 {
		r.log.LogAttrs(context.Background(), slog.LevelInfo, "mailbox dropped",
			slog.String("user", name), slog.String("why", why), slog.Int("dropped", n))
	}
}

// OnExpire is the engine.ExpireFunc to give the Presence: when an orphaned
// name's grace period ends, what is left in its mailbox is dropped, logged
// and counted (Stats.DroppedExpired).
func (r *Router) OnExpire(name string, h engine.Holder) {
	mu := r.stripe(name)
	mu.Lock()
	// A claim may have come in between the expiry and this call; then the
	// mailbox (if any) belongs to the new holder.
	if _, err := r.presence.Lookup(context.Background(), name); !errors.Is(err, engine.ErrNotFound) {
		mu.Unlock()
		return
	}
	n := r.dropMailboxLocked(name)
	mu.Unlock()
	r.logDrop(name, "grace expired", n)
	r.log.LogAttrs(context.Background(), slog.LevelDebug, "orphan expired",
		slog.String("user", name), slog.String("backend_id", h.Backend))
}

// Lookup answers subs_exists: whether name is held, and the address of the
// live holder's backend ("" when orphaned, or held through another node).
func (r *Router) Lookup(ctx context.Context, name string) (exists bool, address string, h engine.Holder, err error) {
	if err := ValidateName(name, r.cfg.MaxNameBytes); err != nil {
		return false, "", engine.Holder{}, err
	}
	h, err = r.presence.Lookup(ctx, name)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return false, "", engine.Holder{}, nil
	case err != nil:
		return false, "", engine.Holder{}, err
	case h.Orphaned:
		return true, "", h, nil
	}
	return true, r.HolderAddress(h.Backend), h, nil
}

// HolderAddress returns the address of the registered session backendID,
// or "" (e.g. for a *engine.TakenError's Holder).
func (r *Router) HolderAddress(backendID string) string {
	if e := r.session(backendID); e != nil {
		return e.addr
	}
	return ""
}

// JoinRoom records that session s has members in room (join_room).
func (r *Router) JoinRoom(ctx context.Context, s Session, room string) error {
	if err := ValidateName(room, r.cfg.MaxNameBytes); err != nil {
		return err
	}
	e := r.session(s.BackendID())
	if e == nil {
		return ErrNotRegistered
	}
	if err := r.rooms.Join(ctx, room, e.id); err != nil {
		return err
	}
	if r.ended(e) { // Unregister may have dropped e's rooms before this join
		_ = r.rooms.DropBackend(ctx, e.id)
		return ErrNotRegistered
	}
	return nil
}

// ended reports whether e's session was unregistered.
func (r *Router) ended(e *entry) bool {
	e.gateMu.Lock()
	defer e.gateMu.Unlock()
	return e.gone
}

// LeaveRoom records that session s left room (leave_room).
func (r *Router) LeaveRoom(ctx context.Context, s Session, room string) error {
	if err := ValidateName(room, r.cfg.MaxNameBytes); err != nil {
		return err
	}
	if r.session(s.BackendID()) == nil {
		return ErrNotRegistered
	}
	return r.rooms.Leave(ctx, room, s.BackendID())
}

// MailboxLen returns how many messages are waiting for name.
func (r *Router) MailboxLen(name string) int {
	r.mbMu.Lock()
	defer r.mbMu.Unlock()
	return r.mb.len(name)
}

// Redeliver gives back direct deliveries that session failedID accepted
// (Deliver returned nil) but never confirmed before it ended — e.g. bytes
// queued or in flight to a backend that was killed. Each recipient's copy
// goes to its mailbox if the name is orphaned, or to its new holder if
// another session claimed it meanwhile. Give them in the order they were
// delivered: mailboxes keep routing order. Room and public deliveries (To
// empty) are ignored: they are never kept for a backend that is gone.
// Call it after Unregister(failedID).
func (r *Router) Redeliver(ctx context.Context, failedID string, ds []*Delivery) {
	for _, d := range ds {
		if len(d.To) == 0 {
			continue
		}
		r.rehold(ctx, failedID, d, nil)
	}
}
