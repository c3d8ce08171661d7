package control

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/codec"
)

// session is one channel connection. Before `address` it is only a socket;
// after, it is a pool member (backend.Backend) and a router.Session.
type session struct {
	ch   *Channel
	sock *sio.Socket

	mu    sync.Mutex       // guards b, ended
	b     *backend.Backend // nil until registered
	ended bool

	id    atomic.Pointer[string] // backend ID once registered
	addr  atomic.Pointer[string] // announced address once registered
	acks  atomic.Bool            // the backend acks direct messages (address option ack:true)
	batch atomic.Bool            // the backend takes `message` arrays (address option batch:true)

	unconf unconfirmed // direct deliveries awaiting the backend's ack
}

var _ router.Session = (*session)(nil)

// BackendID implements router.Session.
func (s *session) BackendID() string {
	if p := s.id.Load(); p != nil {
		return *p
	}
	return ""
}

// Address implements router.Session.
func (s *session) Address() string {
	if p := s.addr.Load(); p != nil {
		return *p
	}
	return ""
}

// Deliver implements router.Session: it sends the `message` event. It
// blocks while the socket's queue is full (backpressure).
//
// Room and public messages are encoded once per Delivery and shared by
// every receiver. A direct message to a backend that announced `ack: true`
// asks for an acknowledgement and stays unconfirmed until it arrives: if
// the session ends first, the router gets it back (Redeliver) for the
// recipient's mailbox, so a backend killed with messages in flight loses
// none of them.
//
// When the router call came from a backend's `message` handler, ctx is its
// routeCall (viaKey): the write joins the ones that backend's reader
// starts after the burst it read (sio.Socket.SendVia). When that handler
// routes a `message` array and s takes batches, d is held until the
// handler has routed every item (routeCall.flush), so what the array has
// for s leaves as one array.
//
// Deliver never waits for acks: they are read by this backend's reader,
// which may itself be blocked sending to the backend we would wait on (a
// cycle). Instead the unconfirmed set is bounded (MaxUnconfirmed messages
// and MaxUnconfirmedBytes); a backend that exceeds it is cut off as a slow
// consumer by closing its transport — its client reconnects — and what it
// had not confirmed goes back to the mailboxes.
func (s *session) Deliver(ctx context.Context, d *router.Delivery) error {
	rc, _ := ctx.Value(viaKey{}).(*routeCall)
	confirmed := s.confirms(d)
	if confirmed {
		if err := s.admit(rc, d); err != nil {
			return err
		}
	}
	if rc != nil && rc.batch && s.batch.Load() {
		rc.hold(s, d)
		return nil
	}
	if err := s.sendOne(rc, d); err != nil && (!confirmed || s.unconf.remove(d)) {
		return err // not sent: the router handles it
	}
	return nil // sent, or endAs already took it and gives it back
}

// confirms tells whether d waits for s's ack: a direct message to a
// backend that announced ack:true.
func (s *session) confirms(d *router.Delivery) bool { return d.To != nil && s.acks.Load() }

// sendOne writes d as a `message` event: asking for an ack if s confirms
// it (admitted already), else as its shared encoding. On an error an
// admitted d stays unconfirmed: the caller decides.
func (s *session) sendOne(rc *routeCall, d *router.Delivery) error {
	if s.confirms(d) {
		m := sio.Message{Args: []json.RawMessage{deliveryJSON(d)}, Attachments: d.Attachments, Valid: true}
		return s.sock.EmitWithAckFuncVia(rc.socket(), "message", m, s.ch.cfg.AckWait, func(a sio.Message, err error) {
			s.confirmed([]*router.Delivery{d}, a.Args, err)
		})
	}
	enc, err := d.Encode(s.ch.encodeDelivery)
	if err != nil {
		return err
	}
	return s.sock.SendVia(rc.socket(), enc.Value.(*sio.Encoded))
}

// confirmed handles the backend's ack of ds (one message, or an array):
// answers[i] is its answer for ds[i] (none, or {missing}). A timeout drops
// them from the unconfirmed set; a closed session leaves them to endAs,
// which gives them back to the router.
func (s *session) confirmed(ds []*router.Delivery, answers []json.RawMessage, err error) {
	if errors.Is(err, sio.ErrClosed) {
		return
	}
	if err != nil {
		if errors.Is(err, sio.ErrAckTimeout) {
			s.ch.st.ackTimedOut.Add(uint64(len(ds)))
		}
		s.ch.log.Warn("message not confirmed", "backend_id", s.BackendID(), "id", ds[0].ID, "count", len(ds), "err", err)
	}
	for i, d := range ds {
		if s.unconf.remove(d) && err == nil && i < len(answers) {
			s.redeliverMissing(d, answers[i])
		}
	}
}

// viaKey is the context key of the *routeCall of a backend's `message`.
type viaKey struct{}

// routeCall is one `message` event being routed, and the context of its
// router call (one allocation per message, not a WithValue besides): the
// sending socket (the writes join its reader's burst) and the receivers
// that are over their pacing mark, whose confirmations the sender's ack
// waits for.
type routeCall struct {
	context.Context
	via   *sio.Socket
	batch bool       // a `message` array: direct deliveries are held for flush
	mu    sync.Mutex // guards paced, held
	paced []*session
	held  []heldFor
}

// heldFor is the deliveries the routeCall of a `message` array holds for
// one session that takes batches (address option batch:true), in routing
// order, until the handler's flush sends them.
type heldFor struct {
	s  *session
	ds []*router.Delivery
}

// hold keeps d (admitted already, if s confirms it) for rc's flush to s.
// Room and public deliveries are held too, so that they keep their place
// among the direct ones.
func (rc *routeCall) hold(s *session, d *router.Delivery) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for i := range rc.held {
		if rc.held[i].s == s {
			rc.held[i].ds = append(rc.held[i].ds, d)
			return
		}
	}
	rc.held = append(rc.held, heldFor{s: s, ds: []*router.Delivery{d}})
}

// flush sends what rc holds: for each session, runs of direct deliveries
// without binary attachments as one `message` array (a run of one as a
// plain message), the others alone, in routing order. routeBatch calls it
// once it has routed every item, before its ack.
func (rc *routeCall) flush() {
	rc.mu.Lock()
	held := rc.held
	rc.held = nil
	rc.mu.Unlock()
	for _, h := range held {
		ds := h.ds
		for len(ds) > 0 {
			n := 1
			if batchable(ds[0]) {
				// A run of batchable deliveries, cut where the array
				// could outgrow one packet.
				size := deliveryPacketBound(ds[0])
				for n < len(ds) && batchable(ds[n]) {
					size += 1 + deliveryPacketBound(ds[n])
					if size > h.s.ch.maxPacket {
						break
					}
					n++
				}
			}
			h.s.sendHeld(rc, ds[:n])
			ds = ds[n:]
		}
	}
}

// deliveryPacketBound is an upper bound of d's share of a packet.
func deliveryPacketBound(d *router.Delivery) int64 {
	return deliveryBound(router.Message{To: d.To, Room: d.Room, From: d.From, Data: d.Data, Attachments: d.Attachments}, d.Backend, len(d.ID))
}

// batchable tells whether d may travel in a `message` array.
func batchable(d *router.Delivery) bool { return d.To != nil && len(d.Attachments) == 0 }

// sendHeld writes held deliveries: one, or a run of batchable ones. A
// failed write needs no handling: the session is closing, and its end
// gives the unconfirmed ones back to the router (backends without acks
// get at-most-once delivery).
func (s *session) sendHeld(rc *routeCall, ds []*router.Delivery) {
	if len(ds) == 1 {
		_ = s.sendOne(rc, ds[0])
		return
	}
	n := 2
	for _, d := range ds {
		n += 1 + deliveryJSONCap(d) // and a comma
	}
	s.ch.st.batchesOut.Add(1)
	s.ch.st.batchItemsOut.Add(uint64(len(ds)))
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, d := range ds {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = appendDeliveryJSON(buf, d)
	}
	m := sio.Message{Args: []json.RawMessage{append(buf, ']')}, Valid: true}
	if !s.acks.Load() {
		_ = s.sock.EmitVia(rc.socket(), "message", m)
		return
	}
	_ = s.sock.EmitWithAckFuncVia(rc.socket(), "message", m, s.ch.cfg.AckWait, func(a sio.Message, err error) {
		var answers []json.RawMessage // an array aligned with ds, or none: all handed over
		if err == nil && len(a.Args) > 0 && codec.IsJSONArray(a.Args[0]) {
			answers, _ = codec.SplitArray(a.Args[0], nil)
		}
		s.confirmed(ds, answers, err)
	})
}

// socket is the sending backend's socket, or nil without a routeCall (a
// message from the HTTP route, a mailbox flush).
func (rc *routeCall) socket() *sio.Socket {
	if rc == nil {
		return nil
	}
	return rc.via
}

// Value makes the routeCall findable under viaKey from derived contexts.
func (rc *routeCall) Value(key any) any {
	if key == (viaKey{}) {
		return rc
	}
	return rc.Context.Value(key)
}

func (rc *routeCall) pace(s *session) {
	rc.mu.Lock()
	if !slices.Contains(rc.paced, s) {
		rc.paced = append(rc.paced, s)
	}
	rc.mu.Unlock()
}

// pacedBy returns the receivers that pace rc's sender (see whenPaced).
func (rc *routeCall) pacedBy() []*session {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.paced
}

// pacing reports whether a receiver paces rc's sender: whenPaced would
// hold the ack.
func (rc *routeCall) pacing() bool { return len(rc.pacedBy()) > 0 }

// whenPaced runs fn (the sender's ack) at once, or once every paced
// receiver is back under its low mark (or gone). Holding the ack is the
// backpressure of a sender that bounds its unanswered messages (the Go
// SDK's SendMessageAsync, the chat example's backends): it slows down
// instead of pushing the receiver past MaxUnconfirmed, where it would be
// cut off. No reader ever waits for it, so it cannot deadlock.
func (rc *routeCall) whenPaced(fn func()) {
	paced := rc.pacedBy()
	if len(paced) == 0 {
		fn()
		return
	}
	var left atomic.Int32
	left.Store(int32(len(paced)))
	done := func() {
		if left.Add(-1) == 0 {
			fn()
		}
	}
	for _, s := range paced {
		if !s.unconf.wait(done) {
			done()
		}
	}
}

// admit adds d to the unconfirmed set: past half of the bound the sender
// is paced, past the bound s is cut off.
func (s *session) admit(rc *routeCall, d *router.Delivery) error {
	switch s.unconf.add(d, s.ch.cfg.MaxUnconfirmed, s.ch.cfg.MaxUnconfirmedBytes) {
	case addHigh:
		if rc != nil {
			rc.pace(s)
		}
	case addClosed:
		return sio.ErrClosed
	case addFull:
		s.ch.st.cutOff.Add(1)
		s.ch.log.Warn("backend cut off: too many unconfirmed messages", "backend_id", s.BackendID())
		s.sock.CloseTransport(sio.ReasonSlowConsumer)
		return sio.ErrSlowConsumer
	}
	return nil
}

// redeliverMissing handles an ack {missing: [names]}: the backend no longer
// has those users (they left or moved a moment ago), so the router finds
// them again — their new holder, or their mailbox.
func (s *session) redeliverMissing(d *router.Delivery, answer json.RawMessage) {
	if len(answer) == 0 || answer[0] != '{' {
		return
	}
	var r struct {
		Missing []string `json:"missing"`
	}
	if json.Unmarshal(answer, &r) != nil || len(r.Missing) == 0 {
		return
	}
	var names []string
	for _, n := range r.Missing {
		if slices.Contains(d.To, n) && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(s.ch.ctx, opTimeout)
	defer cancel()
	s.ch.st.missing.Add(1)
	s.ch.rt.Redeliver(ctx, s.BackendID(), []*router.Delivery{d.For(names)})
}

// encodeDelivery builds the shared `message` event for d.
func (c *Channel) encodeDelivery(d *router.Delivery) (*router.Encoded, error) {
	enc, err := sio.Encode(c.cfg.Namespace, "message", sio.Message{Args: []json.RawMessage{deliveryJSON(d)}, Attachments: d.Attachments, Valid: true})
	if err != nil {
		return nil, err
	}
	return &router.Encoded{Value: enc}, nil
}

// deliveryJSON is the `message` payload: {id, from, backend, to, room,
// data}, data copied verbatim.
func deliveryJSON(d *router.Delivery) json.RawMessage {
	return appendDeliveryJSON(make([]byte, 0, deliveryJSONCap(d)), d)
}

// deliveryJSONCap estimates the length of d's `message` payload, for a
// buffer that rarely grows.
func deliveryJSONCap(d *router.Delivery) int { return 96 + len(d.Data) + len(d.Backend) + len(d.ID) }

// appendDeliveryJSON appends d's `message` payload to buf.
func appendDeliveryJSON(buf []byte, d *router.Delivery) []byte {
	buf = append(buf, `{"id":`...)
	buf = codec.AppendJSONString(buf, d.ID)
	buf = append(buf, `,"from":`...)
	buf = appendNullableString(buf, d.From)
	buf = append(buf, `,"backend":`...)
	buf = codec.AppendJSONString(buf, d.Backend)
	buf = append(buf, `,"to":`...)
	if d.To == nil {
		buf = append(buf, "null"...)
	} else {
		buf = codec.AppendJSONStrings(buf, d.To)
	}
	buf = append(buf, `,"room":`...)
	buf = appendNullableString(buf, d.Room)
	buf = append(buf, `,"data":`...)
	if len(d.Data) == 0 {
		buf = append(buf, "null"...)
	} else {
		buf = append(buf, d.Data...)
	}
	buf = append(buf, '}')
	return buf
}

// unconfirmed is a session's direct deliveries awaiting the backend's ack,
// in delivery order: list[head:], with nil where an ack came out of order.
// Acks come back in order (a backend handles its messages in order), so
// removal is from the front, O(1).
type unconfirmed struct {
	mu     sync.Mutex // guards the fields below
	list   []*router.Delivery
	head   int
	n      int // non-nil entries in list[head:]
	bytes  int64
	closed bool
	// waiters run once n is back to a quarter of the bound (or the set
	// closes): senders' acks held by routeCall.whenPaced.
	waiters []func()
	low     int // n at which waiters run
}

type addResult int

const (
	addOK   addResult = iota
	addHigh           // added, but over half the bound: pace the sender
	addFull
	addClosed
)

func deliverySize(d *router.Delivery) int64 {
	n := int64(len(d.Data))
	for _, a := range d.Attachments {
		n += int64(len(a))
	}
	return n
}

func (u *unconfirmed) add(d *router.Delivery, maxN int, maxBytes int64) addResult {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed {
		return addClosed
	}
	n := deliverySize(d)
	if u.n >= maxN || u.bytes+n > maxBytes {
		return addFull
	}
	if u.head > 0 && u.head >= len(u.list)/2 {
		// Reuse the consumed front: move the rest down.
		k := copy(u.list, u.list[u.head:])
		clear(u.list[k:])
		u.list, u.head = u.list[:k], 0
	}
	u.list = append(u.list, d)
	u.n++
	u.bytes += n
	u.low = maxN / 4
	if u.n > maxN/2 || u.bytes > maxBytes/2 {
		return addHigh
	}
	return addOK
}

// wait queues fn to run once the set is back under its low mark; it
// reports false (fn not queued) when it already is, or the set is closed.
func (u *unconfirmed) wait(fn func()) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.closed || u.n <= u.low {
		return false
	}
	u.waiters = append(u.waiters, fn)
	return true
}

// release runs the waiters taken from the set (outside u.mu).
func release(ws []func()) {
	for _, fn := range ws {
		fn()
	}
}

// remove reports whether d was still waiting.
func (u *unconfirmed) remove(d *router.Delivery) bool {
	u.mu.Lock()
	ok := u.removeLocked(d)
	var ws []func()
	if ok && len(u.waiters) > 0 && u.n <= u.low {
		ws, u.waiters = u.waiters, nil
	}
	u.mu.Unlock()
	release(ws)
	return ok
}

func (u *unconfirmed) removeLocked(d *router.Delivery) bool {
	for i := u.head; i < len(u.list); i++ {
		if u.list[i] != d {
			continue
		}
		u.list[i] = nil
		u.n--
		u.bytes -= deliverySize(d)
		for u.head < len(u.list) && u.list[u.head] == nil {
			u.head++
		}
		if u.head == len(u.list) {
			u.list, u.head = u.list[:0], 0
		}
		return true
	}
	return false
}

// take closes the set and returns what was waiting, oldest first; held
// senders' acks are released.
func (u *unconfirmed) take() []*router.Delivery {
	u.mu.Lock()
	ws := u.waiters
	u.waiters = nil
	defer release(ws) // runs after the unlock below
	defer u.mu.Unlock()
	u.closed = true
	var l []*router.Delivery
	for _, d := range u.list[u.head:] {
		if d != nil {
			l = append(l, d)
		}
	}
	u.list, u.head, u.n = nil, 0, 0
	return l
}

func appendNullableString(buf []byte, s string) []byte {
	if s == "" {
		return append(buf, "null"...)
	}
	return codec.AppendJSONString(buf, s)
}

// register makes the session a pool member at u. A session registers one
// address; it may re-announce it (updating weight, url and meta).
func (s *session) register(b *backend.Backend) (*backend.Backend, *Failure) {
	c := s.ch
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return nil, fail(CodeBadRequest, "session ended")
	}
	if s.b != nil && s.b.Addr != b.Addr {
		cur := s.b.URL.String()
		s.mu.Unlock()
		return nil, fail(CodeBadAddress, "this session is already registered as "+cur+"; reconnect to announce another address")
	}
	first := s.b == nil
	if !first {
		// Re-announcement: keep identity and state, refresh the options.
		b.ID = s.b.ID
		b.Since = s.b.Since
		if s.b.Draining() {
			b.SetDraining(true)
		}
	}
	s.b = b
	s.mu.Unlock()

	c.mu.Lock()
	old := c.byAddr[b.Addr]
	c.byAddr[b.Addr] = s
	c.mu.Unlock()

	if first {
		id, addr := b.ID, b.URL.String()
		s.id.Store(&id)
		s.addr.Store(&addr)
		if err := c.rt.Register(s); err != nil {
			return nil, failureOf(err)
		}
	}
	c.reg.Add(b)
	if old != nil && old != s {
		old.replace(s)
	}
	return b, nil
}

// replace ends a session whose address another session announced: it is
// told why, then disconnected by the server (clients do not reconnect).
func (s *session) replace(by *session) {
	f := &Failure{Code: CodeReplaced, Message: "another session announced " + by.Address() + "; this one is replaced", Event: "address"}
	b, _ := json.Marshal(f)
	_ = s.sock.Emit("error", sio.Args(b))
	s.endAs("replaced")
	s.sock.Disconnect("replaced")
}

// endAs removes the session from the pool and the router once: its names
// become orphaned for the grace period.
func (s *session) endAs(reason string) {
	c := s.ch
	s.mu.Lock()
	if s.ended {
		s.mu.Unlock()
		return
	}
	s.ended = true
	b := s.b
	s.mu.Unlock()
	if b == nil {
		return
	}
	c.mu.Lock()
	if c.byAddr[b.Addr] == s {
		delete(c.byAddr, b.Addr)
	}
	c.mu.Unlock()
	c.reg.RemoveBackend(b)
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	// Unconfirmed messages go back to mailboxes before the names are
	// orphaned, and so claimable: a claim must find them there, in
	// routing order ahead of anything newer, not receive them after it.
	if pending := s.unconf.take(); len(pending) > 0 {
		c.st.givenBack.Add(uint64(len(pending))) // before they can arrive anywhere
		c.rt.Redeliver(ctx, b.ID, pending)
		c.log.Info("unconfirmed messages given back", "backend_id", b.ID, "count", len(pending))
	}
	names, err := c.rt.Unregister(ctx, b.ID, reason)
	if err != nil {
		c.log.Warn("unregister session", "backend_id", b.ID, "err", err)
	}
	c.log.Info("backend left", "backend_id", b.ID, "backend_addr", b.URL.String(),
		"reason", reason, "orphaned", len(names), "duration", time.Since(b.Since).Round(time.Millisecond))
}

func (s *session) registered() *backend.Backend {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b
}
