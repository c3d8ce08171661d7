package sio

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Socket is one client's connection to one namespace. Safe for concurrent use.
type Socket struct {
	c    *conn
	ns   *Namespace
	id   string
	auth json.RawMessage

	acks   ackTable
	closed atomic.Bool
	done   chan struct{}
	data   atomic.Pointer[any]
}

var nullJSON = json.RawMessage("null")

// ID returns the socket id (distinct from the Engine.IO sid).
func (s *Socket) ID() string { return s.id }

// Namespace returns the namespace name.
func (s *Socket) Namespace() string { return s.ns.name }

// SessionID returns the Engine.IO session id the socket rides on.
func (s *Socket) SessionID() string { return s.c.ec.ID() }

// Auth returns the CONNECT payload (null when none).
func (s *Socket) Auth() json.RawMessage {
	if s.auth == nil {
		return nullJSON
	}
	return s.auth
}

// RemoteAddr, Header and Query describe the handshake request.
func (s *Socket) RemoteAddr() string  { return s.c.ec.RemoteAddr() }
func (s *Socket) Header() http.Header { return s.c.ec.Header() }
func (s *Socket) Query() url.Values   { return s.c.ec.Query() }

// Transport returns the Engine.IO transport in use now ("polling" or "websocket").
func (s *Socket) Transport() string { return s.c.ec.Transport() }

// SetData attaches an application value to the socket; Data returns it.
func (s *Socket) SetData(v any) { s.data.Store(&v) }

// Data returns the value set by SetData, or nil.
func (s *Socket) Data() any {
	if p := s.data.Load(); p != nil {
		return *p
	}
	return nil
}

// Connected reports whether the socket has not disconnected yet.
func (s *Socket) Connected() bool { return !s.closed.Load() }

// Emit sends event. It blocks while the connection's queue is full (up to
// the StallTimeout, then the connection is closed and ErrSlowConsumer returned).
func (s *Socket) Emit(event string, m Message) error {
	if s.closed.Load() {
		return ErrClosed
	}
	buf, err := appendEvent(make([]byte, 0, estimateSize(s.ns.name, event, m.Args)), s.ns.name, -1, event, m)
	if err != nil {
		return err
	}
	return sendPacket(s.c.ec, buf, m.Attachments)
}

// EmitVia is Emit called from a handler of via's socket (via may be nil):
// see EmitWithAckFuncVia.
func (s *Socket) EmitVia(via *Socket, event string, m Message) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.emitID(via, event, m, -1)
}

// EmitWithAck sends event and waits for the ack, ctx's deadline or
// AckTimeout, whichever comes first. Do not call it from a handler of the
// same connection (see the package doc).
func (s *Socket) EmitWithAck(ctx context.Context, event string, m Message) (Message, error) {
	if s.closed.Load() {
		return Message{}, ErrClosed
	}
	cfg := &s.c.srv.cfg
	return waitAck(ctx, &s.acks, cfg.MaxPendingAcks, cfg.AckTimeout, s.done, func(id int64) error {
		return s.emitID(nil, event, m, id)
	})
}

// EmitWithAckFunc sends event and arranges for fn to receive the ack, or
// ErrAckTimeout after timeout (AckTimeout when zero), or ErrClosed. It does
// not wait, so many acks can be in flight without a goroutine each; fn runs
// on the connection's reader or a timer goroutine and must not block long.
// When it returns an error fn is never called.
func (s *Socket) EmitWithAckFunc(event string, m Message, timeout time.Duration, fn func(Message, error)) error {
	return s.EmitWithAckFuncVia(nil, event, m, timeout, fn)
}

// EmitWithAckFuncVia is EmitWithAckFunc called from a handler of via's
// socket (on via's reader goroutine; via may be nil): the write joins the
// ones via's reader starts once it has handled every message it had
// buffered, so a burst of relayed events costs one write per destination
// and wakes no writer goroutine (eio.Conn.SendVia).
func (s *Socket) EmitWithAckFuncVia(via *Socket, event string, m Message, timeout time.Duration, fn func(Message, error)) error {
	if s.closed.Load() {
		return ErrClosed
	}
	cfg := &s.c.srv.cfg
	if timeout <= 0 {
		timeout = cfg.AckTimeout
	}
	return callbackAck(&s.acks, s.c.srv.log, cfg.MaxPendingAcks, timeout, fn, func(id int64) error {
		return s.emitID(via, event, m, id)
	})
}

func (s *Socket) emitID(via *Socket, event string, m Message, id int64) error {
	buf, err := appendEvent(make([]byte, 0, estimateSize(s.ns.name, event, m.Args)+8), s.ns.name, id, event, m)
	if err != nil {
		return err
	}
	return sendPacketVia(s.c.ec, via, buf, m.Attachments)
}

// Send writes a pre-encoded packet (see Encode): one encoding shared by many sockets.
func (s *Socket) Send(p *Encoded) error { return s.SendVia(nil, p) }

// SendVia is Send called from a handler of via's socket (via may be nil):
// see EmitWithAckFuncVia.
func (s *Socket) SendVia(via *Socket, p *Encoded) error {
	if p.nsp != s.ns.name {
		return ErrNamespace
	}
	if s.closed.Load() {
		return ErrClosed
	}
	if c, ok := s.c.ec.(*eio.Conn); ok && via != nil {
		from, _ := via.c.ec.(*eio.Conn)
		return mapSendErr(c.SendVia(from, p.msgs...))
	}
	return mapSendErr(s.c.ec.Send(p.msgs...))
}

// TrySend is Send that never waits: when the connection's queue is full
// the connection is closed at once (ReasonSlowConsumer, the client
// reconnects) and ErrSlowConsumer returned. Fan-outs use it (see
// Namespace.Broadcast).
func (s *Socket) TrySend(p *Encoded) error {
	if p.nsp != s.ns.name {
		return ErrNamespace
	}
	if s.closed.Load() {
		return ErrClosed
	}
	return mapSendErr(s.c.ec.TrySend(p.msgs...))
}

// Disconnect sends DISCONNECT for this namespace (the client will not
// reconnect), then reports reason (ReasonServerDisconnect when empty) to
// OnDisconnect. When it was the session's last namespace, the Engine.IO
// session is closed: by the client on receipt (socket.io clients do), else
// by the server after min(ConnectTimeout, 5s). Idempotent.
func (s *Socket) Disconnect(reason string) {
	if reason == "" {
		reason = ReasonServerDisconnect
	}
	s.c.leave(s, reason, func() {
		// Best effort, bounded by StallTimeout.
		_ = s.c.ec.Send(eio.Message{Data: codec.AppendDisconnect(nil, s.ns.name)})
	})
}

// Done is closed when the socket has disconnected.
func (s *Socket) Done() <-chan struct{} { return s.done }

// PendingAcks returns how many acks the socket waits for.
func (s *Socket) PendingAcks() int { return s.acks.len() }

// finish marks the socket disconnected; it reports whether this call did.
func (s *Socket) finish() bool {
	if !s.closed.CompareAndSwap(false, true) {
		return false
	}
	close(s.done)
	s.acks.close(ErrClosed)
	s.ns.remove(s)
	return true
}

// dispatch runs the handler for one event in the reader.
func (s *Socket) dispatch(name []byte, m Message, id int64) {
	hs := s.ns.handlers.Load()
	var ack Ack
	if id >= 0 {
		ack = s.ackFor(id)
	}
	if h, ok := hs.on[string(name)]; ok {
		h(s, m, ack)
		return
	}
	if hs.any != nil {
		hs.any(s, string(name), m, ack)
	}
}

// ackFor returns the Ack answering packet id; only its first call sends.
func (s *Socket) ackFor(id int64) Ack {
	var used atomic.Bool
	return func(m Message) error {
		if !used.CompareAndSwap(false, true) {
			return nil
		}
		if s.closed.Load() {
			return ErrClosed
		}
		buf, err := appendAck(make([]byte, 0, estimateSize(s.ns.name, "", m.Args)+8), s.ns.name, id, m)
		if err != nil {
			return err
		}
		return sendPacket(s.c.ec, buf, m.Attachments)
	}
}

// Encoded is an event encoded once for many sockets of one namespace.
type Encoded struct {
	nsp  string
	msgs []eio.Message
}

// Encode encodes event for namespace nsp.
func Encode(nsp, event string, m Message) (*Encoded, error) {
	if nsp == "" {
		nsp = "/"
	}
	buf, err := appendEvent(make([]byte, 0, estimateSize(nsp, event, m.Args)), nsp, -1, event, m)
	if err != nil {
		return nil, err
	}
	msgs := make([]eio.Message, 1+len(m.Attachments))
	msgs[0] = eio.Message{Data: buf}
	for i, a := range m.Attachments {
		msgs[i+1] = eio.Message{Data: a, Binary: true}
	}
	return &Encoded{nsp: nsp, msgs: msgs}, nil
}
