package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/codec"
)

// Message is a message the hub routed to this backend.
type Message struct {
	ID      string   // the hub's message ID (unique across hub nodes and restarts)
	From    string   // the sender-given name ("" when none)
	Backend string   // the sending backend's address ("" from outside the pool)
	To      []string // direct message: the recipients this backend holds
	Room    string   // room message: the room ("" for direct and public messages)
	// Data is the payload as the sender gave it (JSON). For a binary
	// payload it is a placeholder {"_placeholder":true,"num":N} and the
	// bytes are Attachments[N] (see Bytes).
	Data        json.RawMessage
	Attachments [][]byte

	missing *[]string // set by handleMessage: names reported with Missing
}

// Missing tells Switchboard that this backend no longer has the named
// recipients of a direct message (the user left or moved a moment ago).
// The delivery is then confirmed with {missing: names} once the OnMessage
// handler returns, and Switchboard delivers the message to those users'
// new backend or keeps it in their mailbox, instead of it being lost here.
// Call it from the OnMessage handler only; names not in To are ignored.
func (m Message) Missing(names ...string) {
	if m.missing == nil {
		return
	}
	for _, n := range names {
		if slices.Contains(m.To, n) && !slices.Contains(*m.missing, n) {
			*m.missing = append(*m.missing, n)
		}
	}
}

// Kind is how a message was addressed.
type Kind int

// Kinds of messages.
const (
	KindPublic Kind = iota // to every backend
	KindDirect             // to names (Message.To)
	KindRoom               // to a room's members (Message.Room)
)

func (k Kind) String() string {
	switch k {
	case KindDirect:
		return "direct"
	case KindRoom:
		return "room"
	}
	return "public"
}

// Kind tells how m was addressed.
func (m *Message) Kind() Kind {
	switch {
	case len(m.To) > 0:
		return KindDirect
	case m.Room != "":
		return KindRoom
	}
	return KindPublic
}

// Decode unmarshals Data into v (encoding/json).
func (m *Message) Decode(v any) error { return json.Unmarshal(m.Data, v) }

// Bytes returns a binary payload (sent as []byte): the attachment Data's
// placeholder points at. ok is false when Data is not a placeholder.
func (m *Message) Bytes() (b []byte, ok bool) {
	d := bytes.TrimSpace(m.Data)
	if len(d) == 0 || d[0] != '{' || !bytes.Contains(d, []byte(`"_placeholder"`)) {
		return nil, false
	}
	var p struct {
		Placeholder bool `json:"_placeholder"`
		Num         int  `json:"num"`
	}
	if json.Unmarshal(d, &p) != nil || !p.Placeholder || p.Num < 0 || p.Num >= len(m.Attachments) {
		return nil, false
	}
	return m.Attachments[p.Num], true
}

// Outgoing is a message to route. Set To (direct) or Room (room), or
// neither (public: every other backend).
type Outgoing struct {
	To   []string
	Room string
	// From is the sender-given name receivers see in Message.From (optional).
	From string
	// Data is the payload: a json.RawMessage is sent as is, a []byte as a
	// binary attachment, anything else is encoded with encoding/json.
	Data any
}

// SendResult is the hub's answer to a message.
type SendResult struct {
	ID string // the message ID receivers see
	// Direct messages: what became of each recipient.
	Delivered []string // handed to the backend holding the name
	Held      []string // orphaned: kept in its mailbox until re-claimed
	Unknown   []string // held by nobody: dropped
	Dropped   []string // orphaned but its mailbox is full: dropped
}

// Send sends data to the holders of names (a direct message); it returns
// when the hub has routed it. A name held by this backend is delivered to
// this backend too. See Outgoing.Data for how data is encoded.
func (c *Client) Send(ctx context.Context, to []string, data any) (SendResult, error) {
	if len(to) == 0 {
		return SendResult{}, errors.New("client: send: no recipient")
	}
	return c.SendMessage(ctx, Outgoing{To: to, Data: data})
}

// Publish sends data to every other backend that joined room.
func (c *Client) Publish(ctx context.Context, room string, data any) (SendResult, error) {
	if room == "" {
		return SendResult{}, errors.New("client: publish: empty room")
	}
	return c.SendMessage(ctx, Outgoing{Room: room, Data: data})
}

// Broadcast sends data to every other backend of the pool (a public
// message); the sender does not receive it.
func (c *Client) Broadcast(ctx context.Context, data any) (SendResult, error) {
	return c.SendMessage(ctx, Outgoing{Data: data})
}

// SendMessage routes o through the hub and returns its answer. The message
// is sent at most once: when the connection drops before the answer, the
// error says so and the message may or may not have been routed. While
// the client reconnects it waits for the connection (or ctx).
//
// It goes the way of SendMessageAsync (same order, same window, batched
// with the messages of other goroutines sent meanwhile) and waits for the
// answer until ctx ends; the ack timeout (WithAckTimeout) applies as well.
func (c *Client) SendMessage(ctx context.Context, o Outgoing) (SendResult, error) {
	m, err := encodeOutgoing(&o)
	if err != nil {
		return SendResult{}, err
	}
	w := waiterPool.Get().(*sendWaiter)
	for {
		cn, err := c.current(ctx)
		if err == nil {
			err = c.submit(ctx, cn, m, w.done)
			if err == nil {
				break
			}
			if errors.Is(err, ErrNotConnected) {
				// The connection ended while this call waited for a window
				// slot; nothing was sent (w is untouched): wait for the
				// next one.
				continue
			}
		}
		waiterPool.Put(w) // done is never called
		return SendResult{}, err
	}
	select {
	case a := <-w.ch:
		waiterPool.Put(w)
		return a.res, a.err
	case <-ctx.Done():
		// The answer still comes to w (its channel has room): w is not
		// reused.
		return SendResult{}, fmt.Errorf("client: message: %w", ctx.Err())
	}
}

// sendWaiter is what SendMessage waits on: done puts the answer in ch,
// which has room for it, so done never blocks even when the caller left.
// Pooled: reused only after its answer was taken.
type sendWaiter struct {
	ch   chan sendAnswer
	done func(SendResult, error)
}

type sendAnswer struct {
	res SendResult
	err error
}

var waiterPool = sync.Pool{New: func() any {
	w := &sendWaiter{ch: make(chan sendAnswer, 1)}
	w.done = func(r SendResult, err error) { w.ch <- sendAnswer{r, err} }
	return w
}}

// SendMessageAsync routes o through the hub without waiting for its
// answer: done receives the answer (or why there is none) exactly once,
// unless SendMessageAsync returns an error, in which case done is never
// called and nothing was sent.
//
// Messages are written to the hub in the order of the calls that returned
// nil, so one goroutine's messages are routed in the order it sent them.
// The call waits only while WithMaxInFlight messages already await their
// answer, until one is answered or ctx ends; unlike SendMessage it does not
// wait for a reconnect: between connections it fails with ErrNotConnected.
// As with SendMessage, a message whose answer was lost with the connection
// may or may not have been routed (done gets the error).
//
// done runs on the connection's reader goroutine (or the goroutine failing
// the pending answers when the connection closes, or a timer's after
// WithAckTimeout): it must not block nor wait for the hub. Called from a
// handler (OnMessage …) with the window full, the call waits for ctx or the
// ack timeout, as the answers that would free a slot are read by the
// handler's own goroutine. done may also run on a goroutine calling
// SendMessageAsync, when the write of a message queued before fails. A
// panic in done is recovered and logged at Error; the client carries on.
//
// With batching on (WithBatching, the default), a message sent while an
// earlier one awaits its answer is queued and written with the others
// queued meanwhile as one batch once that answer arrives; each message
// still gets its own answer. The ack timeout (WithAckTimeout) counts from
// the call: a message still queued when it runs out fails with
// ErrAckTimeout without being sent, and a batch is given up at its oldest
// message's deadline.
// Messages with a []byte payload are never batched.
func (c *Client) SendMessageAsync(ctx context.Context, o Outgoing, done func(SendResult, error)) error {
	if done == nil {
		return errors.New("client: message: nil done callback")
	}
	m, err := encodeOutgoing(&o)
	if err != nil {
		return err
	}
	c.mu.Lock()
	cn, cerr := c.cn, c.err
	c.mu.Unlock()
	switch {
	case cerr != nil:
		return cerr
	case cn == nil:
		return ErrNotConnected
	}
	return c.submit(ctx, cn, m, done)
}

// submit queues m on cn's batcher once a window slot is free (or fails
// when ctx ends or the client closes first). After a nil return done gets
// exactly one answer.
func (c *Client) submit(ctx context.Context, cn *conn, m sio.Message, done func(SendResult, error)) error {
	select {
	case c.window <- struct{}{}:
	default:
		select {
		case c.window <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		case <-c.done:
			return c.Err()
		}
	}
	it := asyncItem{m: m, done: done}
	if d := c.cfg.ackTimeout; d > 0 {
		it.deadline = c.cfg.now().Add(d)
	}
	if err := cn.batch.send(it); err != nil {
		<-c.window
		return err
	}
	return nil
}

func decodeSendResult(raw []byte) (SendResult, error) {
	if r, ok := decodeSendResultFast(raw); ok {
		return r, nil
	}
	var r struct {
		failure
		ID        string   `json:"id"`
		Delivered []string `json:"delivered"`
		Held      []string `json:"held"`
		Unknown   []string `json:"unknown"`
		Dropped   []string `json:"dropped"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return SendResult{}, fmt.Errorf("client: message: bad reply: %w", err)
	}
	if !r.OK {
		return SendResult{}, r.failure.err("message")
	}
	return SendResult{ID: r.ID, Delivered: r.Delivered, Held: r.Held, Unknown: r.Unknown, Dropped: r.Dropped}, nil
}

// encodeOutgoing builds the `message` event: {to?, room?, from?, data}.
func encodeOutgoing(o *Outgoing) (sio.Message, error) {
	var data []byte
	var atts [][]byte
	switch d := o.Data.(type) {
	case json.RawMessage:
		data = d
		if len(data) == 0 {
			data = []byte("null")
		}
	case []byte:
		data = sio.Placeholder(0)
		atts = [][]byte{d}
	default:
		b, err := json.Marshal(d)
		if err != nil {
			return sio.Message{}, fmt.Errorf("client: encode message data: %w", err)
		}
		data = b
	}
	if len(o.To) > 0 && o.Room != "" {
		return sio.Message{}, errors.New("client: message has both To and Room")
	}
	buf := make([]byte, 0, 32+len(data)+16*len(o.To)+len(o.Room)+len(o.From))
	buf = append(buf, '{')
	if len(o.To) > 0 {
		buf = append(buf, `"to":[`...)
		for i, n := range o.To {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = codec.AppendJSONString(buf, n)
		}
		buf = append(buf, "],"...)
	}
	if o.Room != "" {
		buf = append(buf, `"room":`...)
		buf = codec.AppendJSONString(buf, o.Room)
		buf = append(buf, ',')
	}
	if o.From != "" {
		buf = append(buf, `"from":`...)
		buf = codec.AppendJSONString(buf, o.From)
		buf = append(buf, ',')
	}
	buf = append(buf, `"data":`...)
	buf = append(buf, data...)
	buf = append(buf, '}')
	return sio.Message{Args: []json.RawMessage{buf}, Attachments: atts}, nil
}

func (c *Client) handleMessage(cn *conn, m sio.Message, ack sio.Ack) {
	if cn.broken.Load() {
		// A handler panicked on this connection, which is being closed:
		// neither hand over nor confirm anything more, so that the hub
		// gives the direct messages back (see deliver) in their order.
		return
	}
	fn := c.onMessage.Load()
	if fn == nil || len(m.Args) == 0 {
		if ack != nil {
			_ = ack(sio.Message{})
		}
		return
	}
	if codec.IsJSONArray(m.Args[0]) {
		c.handleBatch(cn, *fn, m.Args[0], ack)
		return
	}
	msg, err := decodeMessage(m.Args[0])
	if err != nil {
		c.log.Warn("bad message from hub", "err", err)
		if ack != nil {
			_ = ack(sio.Message{})
		}
		return
	}
	msg.Attachments = m.Attachments
	if ack == nil {
		if !c.deliver(cn, *fn, msg) {
			cn.setDown(reasonHandlerPanic)
		}
		return
	}
	// Direct messages ask for a confirmation (we announce ack:true): give
	// it once the handler has taken the message, naming the recipients it
	// reported Missing. None when it panicked.
	var missing []string
	msg.missing = &missing
	if !c.deliver(cn, *fn, msg) {
		cn.setDown(reasonHandlerPanic)
		return
	}
	if len(missing) == 0 {
		_ = ack(sio.Message{})
		return
	}
	_ = ack(sio.Args(appendMissing(make([]byte, 0, 32), missing)))
}

// deliver runs the message handler on m and reports whether it returned.
// A panic is recovered and logged, and cn is given up: nothing more is
// handed over on it (broken); the caller, once it has answered the hub,
// hands cn to the supervisor (setDown), which closes it and reconnects.
// The message is not confirmed, nor are the later ones of its batch: the
// hub keeps them in the names' mailboxes (docs/PROTOCOL.md, delivery
// guarantees) and delivers them again once the names are re-claimed.
func (c *Client) deliver(cn *conn, fn func(Message), m Message) (ok bool) {
	defer func() {
		if r := recover(); r != nil {
			ok = false
			cn.broken.Store(true)
			c.log.Error("message handler panicked; reconnecting", "id", m.ID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn(m)
	return true
}

// reasonHandlerPanic is the disconnect reason after a handler panicked.
const reasonHandlerPanic = "message handler panic"

// handleBatch delivers a `message` carrying an array of deliveries (we
// announce batch:true): the handler gets each in order, and one ack
// answers for all: no argument when every item was handed over, else an
// array aligned with the items, {missing} where the handler called
// Missing and null elsewhere (cut after the last {missing}). When the
// handler panics on an item, that item and the later ones are answered
// {missing: every recipient}: the hub keeps them for those names (their
// holder being this backend, in their mailboxes, flushed to it when it
// re-claims them after the reconnect).
func (c *Client) handleBatch(cn *conn, fn func(Message), arr []byte, ack sio.Ack) {
	var buf [16]json.RawMessage
	items, err := codec.SplitArray(arr, buf[:0])
	if err != nil {
		c.log.Warn("bad message batch from hub", "err", err)
		if ack != nil {
			_ = ack(sio.Message{})
		}
		return
	}
	c.stats.recv.Add(1)
	var missing [][]string
	if ack != nil {
		missing = make([][]string, len(items))
	}
	panicked := false
	defer func() {
		if panicked { // after the ack: the connection is closed next
			cn.setDown(reasonHandlerPanic)
		}
	}()
	for i, raw := range items {
		msg, err := decodeMessage(raw)
		if err != nil {
			c.log.Warn("bad message from hub", "err", err, "index", i)
			continue
		}
		if ack != nil {
			msg.missing = &missing[i]
		}
		if !c.deliver(cn, fn, msg) {
			panicked = true
			if ack == nil {
				return
			}
			for j := i; j < len(items); j++ {
				// Not handed over: the hub re-routes each to its names.
				missing[j] = nil
				if m, err := decodeMessage(items[j]); err == nil {
					missing[j] = m.To
				}
			}
			break
		}
	}
	if ack == nil {
		return
	}
	last := -1
	for i, ms := range missing {
		if len(ms) > 0 {
			last = i
		}
	}
	if last < 0 {
		_ = ack(sio.Message{})
		return
	}
	b := append(make([]byte, 0, 16*(last+1)+32), '[')
	for i, ms := range missing[:last+1] {
		if i > 0 {
			b = append(b, ',')
		}
		if len(ms) == 0 {
			b = append(b, "null"...)
			continue
		}
		b = appendMissing(b, ms)
	}
	_ = ack(sio.Args(append(b, ']')))
}

// appendMissing appends the delivery ack {"missing":[names]}.
func appendMissing(buf []byte, names []string) json.RawMessage {
	buf = codec.AppendJSONStrings(append(buf, `{"missing":`...), names)
	return append(buf, '}')
}

// wireMessage is the hub's `message` event for the slow path.
type wireMessage struct {
	ID      string          `json:"id"`
	From    *string         `json:"from"`
	Backend string          `json:"backend"`
	To      []string        `json:"to"`
	Room    *string         `json:"room"`
	Data    json.RawMessage `json:"data"`
}

// decodeMessage decodes {id, from, backend, to, room, data}. Data aliases b
// (received messages own their bytes). The fast path handles the hub's
// encoding (strings without escapes); anything else goes to encoding/json.
func decodeMessage(b []byte) (Message, error) {
	var m Message
	if decodeFast(b, &m) {
		return m, nil
	}
	m = Message{}
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return Message{}, fmt.Errorf("decode message: %w", err)
	}
	m.ID, m.Backend, m.To, m.Data = w.ID, w.Backend, w.To, w.Data
	if w.From != nil {
		m.From = *w.From
	}
	if w.Room != nil {
		m.Room = *w.Room
	}
	if m.Data == nil {
		m.Data = json.RawMessage("null")
	}
	return m, nil
}

// scanner walks JSON the hub produced. Every method is bounds-checked and
// gives up (false) on anything it does not handle, never panics.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) consume(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// object walks a JSON object: for each key, field consumes the value
// and reports whether the decoding may go on. object reports false on a
// syntax error or when field does.
func (s *scanner) object(field func(key []byte) bool) bool {
	if !s.consume('{') {
		return false
	}
	if s.consume('}') {
		return true
	}
	for {
		key, ok := s.strBytes()
		if !ok || !s.consume(':') || !field(key) {
			return false
		}
		if !s.consume(',') {
			return s.consume('}')
		}
	}
}

// okTrue consumes the value of "ok", which must be true and not seen
// before (*seen).
func (s *scanner) okTrue(seen *bool) bool {
	s.ws()
	if *seen || !s.lit("true") {
		return false
	}
	*seen = true
	return true
}

// str reads a string without escapes; ok false otherwise.
func (s *scanner) str() (string, bool) {
	b, ok := s.strBytes()
	if !ok {
		return "", false
	}
	return string(b), true
}

// strBytes is str without the copy.
func (s *scanner) strBytes() ([]byte, bool) {
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		return nil, false
	}
	start := s.i + 1
	high := false
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			seg := s.b[start:j]
			if high && !utf8.Valid(seg) {
				return nil, false
			}
			s.i = j + 1
			return seg, true
		case c == '\\' || c < 0x20:
			return nil, false
		case c >= 0x80:
			high = true
		}
	}
	return nil, false
}

func (s *scanner) lit(l string) bool {
	if len(s.b)-s.i >= len(l) && string(s.b[s.i:s.i+len(l)]) == l {
		s.i += len(l)
		return true
	}
	return false
}

// value skips one JSON value and returns its bytes (validated later).
func (s *scanner) value() ([]byte, bool) {
	s.ws()
	start := s.i
	depth := 0
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case '"':
			j := s.i + 1
			for j < len(s.b) && s.b[j] != '"' {
				if s.b[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(s.b) {
				return nil, false
			}
			s.i = j + 1
			if depth == 0 {
				return s.b[start:s.i], true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.scalar(start)
			}
			depth--
			if depth == 0 {
				s.i++
				return s.b[start:s.i], true
			}
		case ',':
			if depth == 0 {
				return s.scalar(start)
			}
		}
		s.i++
	}
	if depth == 0 {
		return s.scalar(start)
	}
	return nil, false
}

// scalar returns the number or literal that ended at s.i.
func (s *scanner) scalar(start int) ([]byte, bool) {
	v := bytes.TrimRight(s.b[start:s.i], " \t\r\n")
	return v, len(v) > 0
}

// decodeFast decodes the hub's encoding of a message. Its strings share
// one allocation (and To one more): the whole decode costs two.
func decodeFast(b []byte, m *Message) bool {
	s := scanner{b: b}
	var (
		seen                    uint8
		id, from, backend, room []byte
		toArr                   [4][]byte
		to                      = toArr[:0]
		toArray                 bool // "to" was an array (not null or absent)
	)
	if !s.object(func(key []byte) bool {
		var bit uint8
		ok := false
		switch string(key) {
		case "id":
			bit = 1
			id, ok = s.strBytes()
		case "from":
			bit = 2
			from, ok = s.nullableBytes()
		case "backend":
			bit = 4
			backend, ok = s.nullableBytes()
		case "room":
			bit = 8
			room, ok = s.nullableBytes()
		case "to":
			bit = 16
			to, toArray, ok = s.nameBytes(to)
		case "data":
			bit = 32
			var v []byte
			v, ok = s.value()
			m.Data = v
		default:
			// Unknown keys (and duplicates below) go to encoding/json.
			return false
		}
		if !ok || seen&bit != 0 {
			return false
		}
		seen |= bit
		return true
	}) {
		return false
	}
	if m.Data == nil {
		m.Data = json.RawMessage("null")
	}
	if !json.Valid(m.Data) || !s.rest() {
		return false
	}
	n := len(id) + len(from) + len(backend) + len(room)
	for _, t := range to {
		n += len(t)
	}
	var sb strings.Builder
	sb.Grow(n)
	sb.Write(id)
	sb.Write(from)
	sb.Write(backend)
	sb.Write(room)
	for _, t := range to {
		sb.Write(t)
	}
	all := sb.String()
	cut := func(k int) string {
		v := all[:k]
		all = all[k:]
		return v
	}
	m.ID, m.From, m.Backend, m.Room = cut(len(id)), cut(len(from)), cut(len(backend)), cut(len(room))
	if toArray {
		m.To = make([]string, len(to))
		for i, t := range to {
			m.To[i] = cut(len(t))
		}
	}
	return true
}

// nullableBytes is strBytes that also takes null (as nil).
func (s *scanner) nullableBytes() ([]byte, bool) {
	s.ws()
	if s.lit("null") {
		return nil, true
	}
	return s.strBytes()
}

// nameBytes reads an array of strings (appended to dst) or null.
func (s *scanner) nameBytes(dst [][]byte) (out [][]byte, array, ok bool) {
	s.ws()
	if s.lit("null") {
		return dst, false, true
	}
	if !s.consume('[') {
		return nil, false, false
	}
	if s.consume(']') {
		return dst, true, true
	}
	for {
		n, ok := s.strBytes()
		if !ok {
			return nil, false, false
		}
		dst = append(dst, n)
		if s.consume(',') {
			continue
		}
		if s.consume(']') {
			return dst, true, true
		}
		return nil, false, false
	}
}

// rest checks nothing but whitespace follows.
func (s *scanner) rest() bool {
	s.ws()
	return s.i == len(s.b)
}

// names reads an array of strings or null.
func (s *scanner) names() ([]string, bool) {
	s.ws()
	if s.lit("null") {
		return nil, true
	}
	if !s.consume('[') {
		return nil, false
	}
	if s.consume(']') {
		return []string{}, true
	}
	out := make([]string, 0, 1)
	for {
		n, ok := s.str()
		if !ok {
			return nil, false
		}
		out = append(out, n)
		if s.consume(',') {
			continue
		}
		if s.consume(']') {
			return out, true
		}
		return nil, false
	}
}

// decodeSendResultFast decodes a successful ack as the hub writes it
// ({"ok":true,"id":…,"delivered":[…],"held":[…],"unknown":[…]}, optional
// "dropped"); anything else (failures, escapes, unknown keys) is left to
// encoding/json.
func decodeSendResultFast(b []byte) (SendResult, bool) {
	var r SendResult
	s := scanner{b: b}
	okSeen := false
	if !s.object(func(key []byte) bool {
		ok := false
		switch string(key) {
		case "ok":
			return s.okTrue(&okSeen)
		case "id":
			if r.ID != "" {
				return false
			}
			r.ID, ok = s.str()
		case "delivered":
			r.Delivered, ok = s.names()
		case "held":
			r.Held, ok = s.names()
		case "unknown":
			r.Unknown, ok = s.names()
		case "dropped":
			r.Dropped, ok = s.names()
		}
		return ok // an unknown key is left to encoding/json too
	}) {
		return r, false
	}
	return r, okSeen && s.rest()
}
