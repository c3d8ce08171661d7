package control

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/codec"
)

// MaxWeight bounds the `weight` option of `address`.
const MaxWeight = backend.MaxWeight

func (c *Channel) registerEvents() {
	on := func(event string, h func(s *session, m sio.Message, ack sio.Ack)) {
		c.nsp.On(event, func(sock *sio.Socket, m sio.Message, ack sio.Ack) {
			s, _ := sock.Data().(*session)
			if s == nil {
				return
			}
			h(s, m, ack)
		})
	}
	on("address", (*session).onAddress)
	on("drain", (*session).onDrain)
	on("join_subs", (*session).onJoinSubs)
	on("leave_subs", (*session).onLeaveSubs)
	on("subs_exists", (*session).onSubsExists)
	on("message", (*session).onMessage)
	on("broadcast", (*session).onBroadcast)
	on("join_room", (*session).onJoinRoom)
	on("leave_room", (*session).onLeaveRoom)
	c.nsp.OnAny(func(sock *sio.Socket, event string, m sio.Message, ack sio.Ack) {
		s, _ := sock.Data().(*session)
		if s == nil {
			return
		}
		s.replyFail(event, ack, fail(CodeUnknownEvent, fmt.Sprintf("unknown event %q", event)))
	})
}

func (s *session) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.ch.ctx, opTimeout)
}

// addressOptions is the optional second argument of `address`.
type addressOptions struct {
	Weight *int            `json:"weight"`
	URL    string          `json:"url"`
	Meta   json.RawMessage `json:"meta"`
	Ack    bool            `json:"ack"`   // the backend acks direct `message` events
	Batch  bool            `json:"batch"` // the backend takes `message` arrays of deliveries
}

func (s *session) onAddress(m sio.Message, ack sio.Ack) {
	const ev = "address"
	if len(m.Args) == 0 {
		s.replyFail(ev, ack, fail(CodeBadAddress, "address needs the backend's URL, e.g. \"http://127.0.0.1:3001\""))
		return
	}
	var raw string
	if err := json.Unmarshal(m.Args[0], &raw); err != nil {
		s.replyFail(ev, ack, fail(CodeBadAddress, "address must be a string URL"))
		return
	}
	u, err := backend.ParseURL(raw)
	if err != nil {
		s.replyFail(ev, ack, fail(CodeBadAddress, err.Error()))
		return
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil && ip.IsUnspecified() {
		// server.address() gives 0.0.0.0 or ::: use the peer's IP.
		peer := peerIP(s.sock.RemoteAddr())
		if !peer.IsValid() {
			s.replyFail(ev, ack, fail(CodeBadAddress, "unspecified host and no peer address to replace it"))
			return
		}
		host = peer.String()
		u.Host = netipJoin(peer, u.Port())
	}
	port, _ := strconv.Atoi(u.Port())
	if s.ch.isOwn(host, uint16(port)) {
		s.replyFail(ev, ack, fail(CodeBadAddress, u.String()+" is Switchboard's own listener (a proxy loop)"))
		return
	}
	opts := addressOptions{}
	if len(m.Args) > 1 && !isNull(m.Args[1]) {
		if err := json.Unmarshal(m.Args[1], &opts); err != nil {
			s.replyFail(ev, ack, fail(CodeBadRequest, "address options must be an object {weight, url, meta}"))
			return
		}
	}
	weight := 1
	if opts.Weight != nil {
		if *opts.Weight < 1 || *opts.Weight > MaxWeight {
			s.replyFail(ev, ack, fail(CodeBadRequest, fmt.Sprintf("weight must be an integer 1-%d", MaxWeight)))
			return
		}
		weight = *opts.Weight
	}
	if opts.URL != "" {
		if err := checkPublicURL(opts.URL); err != nil {
			s.replyFail(ev, ack, fail(CodeBadRequest, "url option: "+err.Error()))
			return
		}
	}
	if int64(len(opts.Meta)) > s.ch.cfg.MaxMetaBytes {
		s.replyFail(ev, ack, fail(CodeTooLarge, fmt.Sprintf("meta is %d bytes, limit %d", len(opts.Meta), s.ch.cfg.MaxMetaBytes)))
		return
	}
	if isNull(opts.Meta) {
		opts.Meta = nil
	}
	b := &backend.Backend{
		ID:        "b-" + s.sock.ID(),
		Session:   s.sock.ID(),
		URL:       u,
		Addr:      u.Host,
		Weight:    weight,
		PublicURL: opts.URL,
		Meta:      opts.Meta,
		Since:     time.Now(),
	}
	s.acks.Store(opts.Ack)
	s.batch.Store(opts.Batch)
	got, f := s.register(b)
	if f != nil {
		s.replyFail(ev, ack, f)
		return
	}
	s.ch.log.Info("backend joined", "backend_id", got.ID, "backend_addr", got.URL.String(), "weight", got.Weight)
	reply(ack, struct {
		OK      bool   `json:"ok"`
		ID      string `json:"id"`
		Address string `json:"address"`
	}{true, got.ID, got.URL.String()})
}

func (s *session) onDrain(_ sio.Message, ack sio.Ack) {
	b := s.registered()
	if b == nil {
		s.replyFail("drain", ack, fail(CodeNotRegistered, "announce an address first"))
		return
	}
	if b.SetDraining(true) {
		s.ch.log.Info("backend draining", "backend_id", b.ID, "backend_addr", b.URL.String())
		s.ch.reg.Touch(b)
	}
	// The server's load, not only this registration's: after a reconnect
	// the requests and tunnels of the previous one may still run.
	inFlight, tunnels := s.ch.reg.Load(b.Addr)
	reply(ack, struct {
		OK       bool  `json:"ok"`
		InFlight int64 `json:"in_flight"`
		Tunnels  int64 `json:"tunnels"`
	}{true, inFlight, tunnels})
}

// names decodes a name or an array of names.
func names(m sio.Message) ([]string, bool, error) {
	if len(m.Args) == 0 {
		return nil, false, errors.New("needs a name or an array of names")
	}
	a := bytes.TrimSpace(m.Args[0])
	if len(a) > 0 && a[0] == '[' {
		var ns []string
		if err := json.Unmarshal(a, &ns); err != nil {
			return nil, true, errors.New("names must be strings")
		}
		return ns, true, nil
	}
	var n string
	if err := json.Unmarshal(a, &n); err != nil {
		return nil, false, errors.New("name must be a string")
	}
	return []string{n}, false, nil
}

type nameFailure struct {
	Name    string `json:"name"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Holder  string `json:"holder,omitempty"`
}

type presenceResult struct {
	OK      bool          `json:"ok"`
	Code    string        `json:"code,omitempty"`
	Message string        `json:"message,omitempty"`
	Joined  []string      `json:"joined,omitempty"`
	Left    []string      `json:"left,omitempty"`
	Name    string        `json:"name,omitempty"`
	Holder  string        `json:"holder,omitempty"`
	Failed  []nameFailure `json:"failed,omitempty"`
}

// finish fills the top-level ok/code/message from the first failure and
// answers (ack, or an `error` event when no ack was asked and one failed).
func (s *session) finish(event string, ack sio.Ack, res *presenceResult) {
	res.OK = len(res.Failed) == 0
	if !res.OK {
		f := res.Failed[0]
		res.Code, res.Message, res.Name, res.Holder = f.Code, f.Message, f.Name, f.Holder
		if ack == nil {
			g := &Failure{Code: f.Code, Message: f.Message, Name: f.Name, Holder: f.Holder}
			s.replyFail(event, nil, g)
			return
		}
	}
	reply(ack, res)
}

func (s *session) onJoinSubs(m sio.Message, ack sio.Ack) {
	const ev = "join_subs"
	ns, _, err := names(m)
	if err != nil {
		s.replyFail(ev, ack, fail(CodeBadRequest, "join_subs "+err.Error()))
		return
	}
	if s.registered() == nil {
		s.replyFail(ev, ack, fail(CodeNotRegistered, "announce an address before join_subs"))
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	res := &presenceResult{Joined: []string{}}
	var flushes []func()
	for _, n := range ns {
		_, flush, err := s.ch.rt.Claim(ctx, s, n)
		if flush != nil {
			flushes = append(flushes, flush)
		}
		if err != nil {
			nf := nameFailure{Name: n, Code: failureOf(err).Code, Message: err.Error()}
			var te *engine.TakenError
			if errors.As(err, &te) {
				nf.Holder = s.ch.rt.HolderAddress(te.Holder)
			}
			res.Failed = append(res.Failed, nf)
			continue
		}
		res.Joined = append(res.Joined, n)
	}
	// The ack goes first, then each re-claimed name's mailbox, in order.
	s.finish(ev, ack, res)
	for _, f := range flushes {
		f()
	}
}

func (s *session) onLeaveSubs(m sio.Message, ack sio.Ack) {
	const ev = "leave_subs"
	ns, _, err := names(m)
	if err != nil {
		s.replyFail(ev, ack, fail(CodeBadRequest, "leave_subs "+err.Error()))
		return
	}
	if s.registered() == nil {
		s.replyFail(ev, ack, fail(CodeNotRegistered, "announce an address before leave_subs"))
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	res := &presenceResult{Left: []string{}}
	for _, n := range ns {
		if err := s.ch.rt.Release(ctx, s, n); err != nil {
			res.Failed = append(res.Failed, nameFailure{Name: n, Code: failureOf(err).Code, Message: err.Error()})
			continue
		}
		res.Left = append(res.Left, n)
	}
	s.finish(ev, ack, res)
}

// onSubsExists keeps the original's contract: ack(exists, holderAddress|null).
func (s *session) onSubsExists(m sio.Message, ack sio.Ack) {
	const ev = "subs_exists"
	if ack == nil {
		s.replyFail(ev, nil, fail(CodeBadRequest, "subs_exists answers through its ack: pass a callback"))
		return
	}
	ns, many, err := names(m)
	if err != nil {
		s.replyFail(ev, ack, fail(CodeBadRequest, "subs_exists "+err.Error()))
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	exists := make([]bool, len(ns))
	holders := make([]*string, len(ns))
	for i, n := range ns {
		ok, addr, _, err := s.ch.rt.Lookup(ctx, n)
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			s.replyFail(ev, ack, failureOf(err))
			return
		}
		exists[i] = ok
		if ok && addr != "" {
			a := addr
			holders[i] = &a
		}
	}
	var a0, a1 []byte
	if many {
		a0, _ = json.Marshal(exists)
		a1, _ = json.Marshal(holders)
	} else {
		a0, _ = json.Marshal(exists[0])
		a1, _ = json.Marshal(holders[0])
	}
	_ = ack(sio.Args(a0, a1))
}

// wireMessage is the `message` event's object. Data stays raw.
type wireMessage struct {
	To   json.RawMessage `json:"to"`
	Room *string         `json:"room"`
	From *string         `json:"from"`
	Data json.RawMessage `json:"data"`
}

func (s *session) onMessage(m sio.Message, ack sio.Ack) {
	if len(m.Args) > 0 && codec.IsJSONArray(m.Args[0]) {
		s.routeBatch(m, ack)
		return
	}
	s.route("message", m, ack, false)
}

// MaxBatch bounds the messages of one batched `message` (an array).
const MaxBatch = 1000

// routeBatch handles `message` with an array of message objects: each is
// validated and routed as if sent alone, in order, and all of them share
// one routeCall, so their deliveries join the same writes and the ack
// waits for every paced receiver of any of them. The ack is
// {ok:true, results:[...]}, item i's own answer at index i; without an
// ack each failed item is an `error` event carrying its index.
func (s *session) routeBatch(m sio.Message, ack sio.Ack) {
	const ev = "message"
	if len(m.Attachments) > 0 {
		s.replyFail(ev, ack, fail(CodeBadRequest, "a batch cannot carry binary data: send it as a message of its own"))
		return
	}
	items, err := codec.SplitArray(m.Args[0], nil)
	switch {
	case err != nil:
		s.replyFail(ev, ack, fail(CodeBadRequest, "a batch is an array of message objects"))
		return
	case len(items) == 0:
		s.replyFail(ev, ack, fail(CodeBadRequest, "empty batch"))
		return
	case len(items) > MaxBatch:
		s.replyFail(ev, ack, fail(CodeTooLarge, fmt.Sprintf("a batch holds at most %d messages, got %d", MaxBatch, len(items))))
		return
	}
	s.ch.st.batchesIn.Add(1)
	s.ch.st.batchItemsIn.Add(uint64(len(items)))
	rc := &routeCall{Context: s.ch.opContext(), via: s.sock, batch: true}
	var out []byte
	if ack != nil {
		out = make([]byte, 0, 32+112*len(items))
		out = append(out, `{"ok":true,"results":[`...)
	}
	one := sio.Message{Args: make([]json.RawMessage, 1)} // parseMessage keeps no reference to Args
	for i, raw := range items {
		if ack != nil && i > 0 {
			out = append(out, ',')
		}
		one.Args[0] = raw
		msg, f := parseMessage(ev, one, false)
		if f == nil {
			f = s.fits(msg)
		}
		if f == nil {
			var res router.Result
			if res, err = s.ch.rt.Route(rc, s, msg); err == nil {
				if ack != nil {
					out = appendRouteReply(out, res)
				}
				continue
			}
			f = failureOf(err)
		}
		if ack == nil {
			g := *f
			g.Index = new(i)
			s.replyFail(ev, nil, &g) // an `error` event naming the item
			continue
		}
		f.OK = false
		b, _ := json.Marshal(f)
		out = append(out, b...)
	}
	rc.flush()
	if ack != nil {
		reply := sio.Message{Args: []json.RawMessage{append(out, "]}"...)}, Valid: true}
		rc.whenPaced(func() { _ = ack(reply) })
	}
}

func (s *session) onBroadcast(m sio.Message, ack sio.Ack) {
	s.route("broadcast", m, ack, true)
}

// route handles `message` ({to?, room?, data, from?}) and `broadcast`
// ({channel, data}; channel "*" is public).
func (s *session) route(ev string, m sio.Message, ack sio.Ack, broadcast bool) {
	msg, f := parseMessage(ev, m, broadcast)
	if f == nil {
		f = s.fits(msg)
	}
	if f != nil {
		s.replyFail(ev, ack, f)
		return
	}
	rc := &routeCall{Context: s.ch.opContext(), via: s.sock}
	res, err := s.ch.rt.Route(rc, s, msg)
	if err != nil {
		s.replyFail(ev, ack, failureOf(err))
		return
	}
	if ack != nil {
		reply := sio.Message{Args: []json.RawMessage{routeReply(res)}, Valid: true}
		if !rc.pacing() {
			_ = ack(reply) // the common case, without a closure to allocate
			return
		}
		rc.whenPaced(func() { _ = ack(reply) })
	}
}

// deliveryReserve bounds what a delivery's packet adds to its strings,
// data and attachments: the packet type and namespace, the event name, the
// keys, an ack id, separators.
const deliveryReserve = 192

// deliveryBound is an upper bound of the packet that delivers m from a
// backend at addr with a message id of idLen bytes (strings escaped at
// worst six bytes per byte).
func deliveryBound(m router.Message, addr string, idLen int) int64 {
	n := int64(deliveryReserve + len(m.Data) + 6*(idLen+len(addr)+len(m.From)+len(m.Room)))
	for _, to := range m.To {
		n += int64(3 + 6*len(to))
	}
	for _, a := range m.Attachments {
		n += int64(len(a))
	}
	return n
}

// fits refuses a message whose delivery could exceed the payload limit the
// receiving backends read with: it would be reported delivered, and the
// receiver would close its connection on it instead.
func (s *session) fits(m router.Message) *Failure {
	if n := deliveryBound(m, s.Address(), s.ch.idLen); n > s.ch.maxPacket {
		return fail(CodeTooLarge, fmt.Sprintf("delivered with its envelope the message could take %d bytes, over the %d-byte payload limit", n, s.ch.maxPacket))
	}
	return nil
}

// parseMessage decodes the argument of `message` or `broadcast`; data stays
// raw. The router validates names and the to/room combination.
func parseMessage(ev string, m sio.Message, broadcast bool) (router.Message, *Failure) {
	var msg router.Message
	if len(m.Args) == 0 {
		return msg, fail(CodeBadRequest, ev+" needs an object argument")
	}
	if broadcast {
		var w struct {
			Channel *string         `json:"channel"`
			From    *string         `json:"from"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(m.Args[0], &w); err != nil || w.Channel == nil || *w.Channel == "" {
			return msg, fail(CodeBadRequest, "broadcast needs {channel, data}")
		}
		if *w.Channel != "*" {
			msg.Room = *w.Channel
		}
		if w.From != nil {
			msg.From = *w.From
		}
		msg.Data = w.Data
	} else if fm, toSet, roomSet, ok := parseWireFast(m.Args[0]); ok {
		if toSet && len(fm.To) == 0 {
			return msg, fail(CodeBadRequest, "to is an empty list")
		}
		if roomSet && fm.Room == "" {
			return msg, fail(CodeBadRequest, "room is empty")
		}
		msg = fm
	} else {
		var f *Failure
		if msg, f = parseWireSlow(m.Args[0]); f != nil {
			return msg, f
		}
	}
	if len(msg.Data) == 0 {
		msg.Data = json.RawMessage("null")
	}
	msg.Attachments = m.Attachments
	return msg, nil
}

// parseWireSlow is the `message` object's encoding/json path, for what
// parseWireFast declines (escapes, case-folded or duplicate keys, odd
// types); it is also the reference the fuzz target holds the fast one to.
func parseWireSlow(b []byte) (router.Message, *Failure) {
	var msg router.Message
	var w wireMessage
	if err := json.Unmarshal(b, &w); err != nil {
		return msg, fail(CodeBadRequest, "message needs an object {to?, room?, data, from?}")
	}
	if len(w.To) > 0 && !isNull(w.To) {
		if w.To[0] == '[' {
			if err := json.Unmarshal(w.To, &msg.To); err != nil {
				return msg, fail(CodeBadRequest, "to must be a name or an array of names")
			}
			if len(msg.To) == 0 {
				return msg, fail(CodeBadRequest, "to is an empty list")
			}
		} else {
			var one string
			if err := json.Unmarshal(w.To, &one); err != nil {
				return msg, fail(CodeBadRequest, "to must be a name or an array of names")
			}
			msg.To = []string{one}
		}
	}
	if w.Room != nil {
		if *w.Room == "" {
			return msg, fail(CodeBadRequest, "room is empty")
		}
		msg.Room = *w.Room
	}
	if w.From != nil {
		msg.From = *w.From
	}
	msg.Data = w.Data
	return msg, nil
}

func (s *session) onJoinRoom(m sio.Message, ack sio.Ack)  { s.room("join_room", m, ack, true) }
func (s *session) onLeaveRoom(m sio.Message, ack sio.Ack) { s.room("leave_room", m, ack, false) }

func (s *session) room(ev string, m sio.Message, ack sio.Ack, join bool) {
	var room string
	if len(m.Args) == 0 || json.Unmarshal(m.Args[0], &room) != nil {
		s.replyFail(ev, ack, fail(CodeBadRequest, ev+" needs a room name (string)"))
		return
	}
	ctx, cancel := s.ctx()
	defer cancel()
	var err error
	if join {
		err = s.ch.rt.JoinRoom(ctx, s, room)
	} else {
		err = s.ch.rt.LeaveRoom(ctx, s, room)
	}
	if err != nil {
		s.replyFail(ev, ack, failureOf(err))
		return
	}
	reply(ack, struct {
		OK   bool   `json:"ok"`
		Room string `json:"room"`
	}{true, room})
}

func isNull(b json.RawMessage) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func netipJoin(ip netip.Addr, port string) string {
	if ip.Is6() {
		return "[" + ip.String() + "]:" + port
	}
	return ip.String() + ":" + port
}

// checkPublicURL checks the `url` option: the URL browsers use to reach the
// backend (shown by the tracker). Unlike the address it may carry a path
// (e.g. a reverse proxy's /b/4001) and omit the port.
func checkPublicURL(raw string) error {
	if strings.ContainsAny(raw, "{}") {
		return fmt.Errorf("%q: contains { or } (an unexpanded template?)", raw)
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return fmt.Errorf("%q: not a URL", raw)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%q: scheme must be http or https", raw)
	case u.User != nil:
		return fmt.Errorf("%q: must not contain userinfo", raw)
	case u.Hostname() == "":
		return fmt.Errorf("%q: no host", raw)
	case len(raw) > 2048:
		return fmt.Errorf("url is %d bytes, limit 2048", len(raw))
	}
	return nil
}
