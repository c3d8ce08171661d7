package sio

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// ClientConfig configures a Client.
type ClientConfig struct {
	eio.DialConfig
	// Reconnect enables automatic reconnection with exponential backoff and
	// jitter (never after a server-initiated disconnect).
	Reconnect  bool
	BackoffMin time.Duration // default 500ms
	BackoffMax time.Duration // default 5s
	AckTimeout time.Duration // default 10s
	// MaxPendingAcks bounds the acks one namespace waits for (default 1024).
	MaxPendingAcks int
	// MaxAttachments bounds the attachments of one received packet (default 10, as npm's socket.io-parser).
	MaxAttachments int
	// Rand returns a uniform float in [0,1) for the backoff jitter (default
	// math/rand/v2.Float64); tests inject a fixed source.
	Rand   func() float64
	Logger *slog.Logger
}

func (c ClientConfig) withDefaults() ClientConfig {
	if c.BackoffMin <= 0 {
		c.BackoffMin = 500 * time.Millisecond
	}
	if c.BackoffMax <= 0 {
		c.BackoffMax = 5 * time.Second
	}
	if c.BackoffMax < c.BackoffMin {
		c.BackoffMax = c.BackoffMin
	}
	if c.AckTimeout <= 0 {
		c.AckTimeout = DefaultAckTimeout
	}
	if c.MaxPendingAcks <= 0 {
		c.MaxPendingAcks = DefaultMaxPendingAcks
	}
	if c.MaxAttachments <= 0 {
		c.MaxAttachments = DefaultMaxAttachments
	}
	if c.MaxPayloadBytes <= 0 {
		c.MaxPayloadBytes = 1_000_000
	}
	if c.Rand == nil {
		c.Rand = rand.Float64
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Backoff returns the delay before reconnection attempt n (0-based):
// min·2ⁿ capped at max, then scaled by a factor in [0.5, 1.5) drawn from r
// (uniform in [0,1)), and capped at max again.
func Backoff(n int, min, max time.Duration, r float64) time.Duration {
	d := max
	if n < 32 {
		if x := min << n; x > 0 && x < max {
			d = x
		}
	}
	d = time.Duration(float64(d) * (0.5 + r))
	if d > max {
		d = max
	}
	if d < min/2 {
		d = min / 2
	}
	return d
}

// Client is a Socket.IO client (one Engine.IO connection, many namespaces).
// Safe for concurrent use. Callbacks (handlers, OnConnect, OnDisconnect,
// OnConnectError) run on the connection's reader or on the goroutine calling
// Close/Connect, one at a time per connection; they must not call Close.
type Client struct {
	url  string
	cfg  ClientConfig
	log  *slog.Logger
	dial func(ctx context.Context, h *clientConn) (engineConn, error)

	// mu guards the fields below and every ClientSocket's state fields.
	mu        sync.Mutex
	sockets   map[string]*ClientSocket
	cc        *clientConn   // current session, nil between sessions
	running   bool          // the run goroutine is alive
	runCancel func()        // ends the run goroutine
	runDone   chan struct{} // closed when it has exited
	lastErr   error         // last dial error
	closed    bool
	notify    chan struct{} // closed and replaced on every state change

	wg sync.WaitGroup
}

// NewClient returns a client for baseURL; it connects on Connect.
func NewClient(baseURL string, cfg ClientConfig) *Client {
	cfg = cfg.withDefaults()
	c := &Client{
		url:     baseURL,
		cfg:     cfg,
		log:     cfg.Logger.With("component", "sio_client"),
		sockets: make(map[string]*ClientSocket),
		notify:  make(chan struct{}),
	}
	c.dial = func(ctx context.Context, h *clientConn) (engineConn, error) {
		ec, err := eio.Dial(ctx, c.url, c.cfg.DialConfig, h)
		if err != nil {
			return nil, err
		}
		return ec, nil
	}
	return c
}

// changedLocked wakes Connect waiters. Call with c.mu held.
func (c *Client) changedLocked() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// Socket returns the client socket for namespace nsp; auth (may be nil) is
// called on every (re)connect to build the CONNECT payload (a JSON object).
// Register handlers before Connect.
func (c *Client) Socket(nsp string, auth func() json.RawMessage) *ClientSocket {
	if nsp == "" {
		nsp = "/"
	}
	if nsp[0] != '/' {
		nsp = "/" + nsp
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.sockets[nsp]; s != nil {
		if auth != nil {
			s.auth = auth
		}
		return s
	}
	s := &ClientSocket{cl: c, nsp: nsp, auth: auth, on: make(map[string]func(Message, Ack))}
	c.sockets[nsp] = s
	return s
}

// Connect dials and connects every registered namespace; it returns when all
// are connected, one was refused (*ConnectError) or ctx ends. With Reconnect,
// the client keeps reconnecting in the background until Close (dial errors
// before ctx ends are retried too). When Connect returns ctx's error or a
// dial error, the client is left stopped; Connect may be called again.
func (c *Client) Connect(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if len(c.sockets) == 0 {
		c.sockets["/"] = &ClientSocket{cl: c, nsp: "/", on: make(map[string]func(Message, Ack))}
	}
	var late []*ClientSocket
	for _, s := range c.sockets {
		if !s.active {
			s.active, s.refused = true, nil
			if c.cc != nil && s.state == stateIdle {
				late = append(late, s)
			}
		}
	}
	if !c.running {
		c.running, c.lastErr = true, nil
		rctx, cancel := context.WithCancel(context.Background())
		c.runCancel, c.runDone = cancel, make(chan struct{})
		c.wg.Add(1)
		go c.run(rctx, c.runDone)
	}
	if cc := c.cc; cc != nil {
		for _, s := range late {
			s.state, s.cc = stateConnecting, cc
		}
		defer func() {
			for _, s := range late {
				c.sendConnect(cc, s)
			}
		}()
	}
	c.mu.Unlock()

	for {
		c.mu.Lock()
		all, refused := true, error(nil)
		for _, s := range c.sockets {
			if s.refused != nil && refused == nil {
				refused = s.refused
			}
			if s.state != stateConnected {
				all = false
			}
		}
		running, lastErr, wake, done := c.running, c.lastErr, c.notify, c.runDone
		c.mu.Unlock()
		switch {
		case refused != nil:
			return refused
		case all:
			return nil
		case !running:
			if lastErr == nil {
				lastErr = ErrClosed
			}
			return lastErr
		}
		select {
		case <-wake:
		case <-ctx.Done():
			c.stopRun(done)
			return ctx.Err()
		}
	}
}

// stopRun ends the run goroutine started with done, and waits for it.
func (c *Client) stopRun(done chan struct{}) {
	c.mu.Lock()
	if c.runDone != done || !c.running {
		c.mu.Unlock()
		<-done
		return
	}
	cancel := c.runCancel
	for _, s := range c.sockets {
		s.active = false
	}
	c.mu.Unlock()
	cancel()
	<-done
}

// Close disconnects every namespace and stops reconnecting. Idempotent; it
// waits for the client's goroutines to exit.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		c.wg.Wait()
		return nil
	}
	c.closed = true
	cc := c.cc
	var left []*ClientSocket
	for _, s := range c.sockets {
		s.active = false
		if s.cc != nil {
			if s.state == stateConnected {
				left = append(left, s)
			}
			s.state, s.cc = stateIdle, nil
		}
	}
	cancel := c.runCancel
	c.changedLocked()
	c.mu.Unlock()
	if cc != nil && cc.ec != nil {
		for _, s := range left {
			_ = cc.ec.Send(eio.Message{Data: codec.AppendDisconnect(nil, s.nsp)})
		}
	}
	for _, s := range left {
		s.acks.failAll(ErrClosed)
		if fn := s.handlers().onDisconnect; fn != nil {
			c.safeDisconnect(fn, ReasonIOClientDisconnect, false)
		}
	}
	if cancel != nil {
		cancel()
	}
	c.wg.Wait()
	return nil
}

// run owns the connection: dial, connect namespaces, wait for the session
// to end, back off, repeat while reconnection is wanted.
func (c *Client) run(ctx context.Context, done chan struct{}) {
	defer c.wg.Done()
	defer close(done)
	defer func() {
		c.mu.Lock()
		c.running, c.cc = false, nil
		c.changedLocked()
		c.mu.Unlock()
	}()
	for attempt := 0; ; attempt++ {
		if attempt > 0 && !c.sleep(ctx, Backoff(attempt-1, c.cfg.BackoffMin, c.cfg.BackoffMax, c.cfg.Rand())) {
			return
		}
		cc := &clientConn{cl: c, closed: make(chan struct{})}
		cc.re.MaxAttachments = c.cfg.MaxAttachments
		cc.re.MaxBytes = c.cfg.MaxPayloadBytes
		ec, err := c.dial(ctx, cc)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			c.log.Debug("dial failed", "err", err, "attempt", attempt)
			c.mu.Lock()
			c.lastErr = err
			c.changedLocked()
			c.mu.Unlock()
			if !c.cfg.Reconnect {
				return
			}
			continue
		}
		cc.ec = ec
		c.mu.Lock()
		var socks []*ClientSocket
		if !c.closed && ctx.Err() == nil {
			for _, s := range c.sockets {
				if s.active {
					s.state, s.cc = stateConnecting, cc
					socks = append(socks, s)
				}
			}
		}
		if len(socks) > 0 {
			c.cc = cc
		}
		c.mu.Unlock()
		if len(socks) == 0 {
			ec.Close(ReasonIOClientDisconnect)
			<-cc.closed
			return
		}
		attempt = 0
		for _, s := range socks {
			c.sendConnect(cc, s)
		}
		select {
		case <-cc.closed:
		case <-ctx.Done():
			ec.Close(ReasonIOClientDisconnect)
			<-cc.closed
			return
		}
		c.mu.Lock()
		c.cc = nil
		again := c.cfg.Reconnect && !c.closed
		if again {
			again = false
			for _, s := range c.sockets {
				again = again || s.active
			}
		}
		c.mu.Unlock()
		if !again {
			return
		}
	}
}

func (c *Client) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// sendConnect sends CONNECT for s with a fresh auth payload.
func (c *Client) sendConnect(cc *clientConn, s *ClientSocket) {
	var auth json.RawMessage
	c.mu.Lock()
	fn := s.auth
	c.mu.Unlock()
	if fn != nil {
		var ok bool
		if auth, ok = c.safeAuth(fn); !ok {
			cc.refuse(s, &ConnectError{Message: "sio: auth callback panicked"})
			return
		}
		if len(auth) > 0 && (auth[0] != '{' || !codec.ValidJSON(auth)) {
			cc.refuse(s, &ConnectError{Message: "sio: auth payload is not a JSON object"})
			return
		}
	}
	if err := cc.ec.Send(eio.Message{Data: codec.AppendConnect(nil, s.nsp, auth)}); err != nil {
		c.log.Debug("send connect failed", "nsp", s.nsp, "err", err)
	}
}

// anyActiveLocked reports whether some namespace still wants a connection.
func (c *Client) anyActiveLocked() bool {
	for _, s := range c.sockets {
		if s.active {
			return true
		}
	}
	return false
}

// clientConn is one Engine.IO session of a Client.
type clientConn struct {
	cl     *Client
	ec     engineConn // set by run after Dial returned
	closed chan struct{}
	re     codec.Reassembler // reader only
}

// OnMessage implements eio.Handler.
func (cc *clientConn) OnMessage(ec *eio.Conn, m eio.Message) { cc.onMessage(ec, m) }

// OnClose implements eio.Handler.
func (cc *clientConn) OnClose(_ *eio.Conn, reason string) { cc.onClose(reason) }

// socket returns the namespace's socket if it is on this session.
func (cc *clientConn) socket(nsp []byte) *ClientSocket {
	name := "/"
	c := cc.cl
	c.mu.Lock()
	defer c.mu.Unlock()
	var s *ClientSocket
	if len(nsp) == 0 {
		s = c.sockets[name]
	} else {
		s = c.sockets[string(nsp)]
	}
	if s == nil || s.cc != cc {
		return nil
	}
	return s
}

func (cc *clientConn) onMessage(ec engineConn, m eio.Message) {
	defer func() {
		if r := recover(); r != nil {
			cc.cl.log.Error("handler panic", "panic", r, "stack", string(debug.Stack()))
			ec.Close(ReasonTransportError)
		}
	}()
	h, atts, done, err := cc.re.Feed(m.Data, m.Binary)
	if err != nil {
		reason := ReasonParseError
		if errors.Is(err, codec.ErrSIOTooLarge) {
			reason = ReasonTooLarge
		}
		cc.cl.log.Debug("closing session", "reason", reason, "err", err)
		ec.Close(reason)
		return
	}
	if !done {
		return
	}
	if err := cc.handle(ec, h, atts); err != nil {
		cc.cl.log.Debug("closing session", "reason", ReasonParseError, "err", err)
		ec.Close(ReasonParseError)
	}
}

func (cc *clientConn) handle(ec engineConn, h codec.SIOHeader, atts [][]byte) error {
	switch h.Type {
	case codec.SIOEvent, codec.SIOBinaryEvent:
		name, args, err := codec.SplitEvent(h.Payload, nil)
		if err != nil {
			return err
		}
		s := cc.socket(h.Nsp)
		if s == nil {
			return nil
		}
		fn := s.handlers().on[string(name)]
		if fn == nil {
			return nil
		}
		var ack Ack
		if h.ID >= 0 {
			ack = s.ackFor(ec, h.ID)
		}
		fn(Message{Args: args, Attachments: atts}, ack)
	case codec.SIOAck, codec.SIOBinaryAck:
		args, err := codec.SplitArray(h.Payload, nil)
		if err != nil {
			return err
		}
		if s := cc.socket(h.Nsp); s != nil {
			s.acks.resolve(h.ID, Message{Args: args, Attachments: atts})
		}
	case codec.SIOConnect:
		if err := codec.CheckSIOPayload(&h); err != nil {
			return err
		}
		var reply struct {
			SID string `json:"sid"`
		}
		if h.Payload != nil {
			_ = json.Unmarshal(h.Payload, &reply)
		}
		s := cc.socket(h.Nsp)
		if s == nil {
			return nil
		}
		c := cc.cl
		c.mu.Lock()
		ok := s.cc == cc && s.state == stateConnecting
		if ok {
			s.state, s.sid = stateConnected, reply.SID
			c.changedLocked()
		}
		c.mu.Unlock()
		if ok {
			if fn := s.handlers().onConnect; fn != nil {
				fn()
			}
		}
	case codec.SIOConnectError:
		if err := codec.CheckSIOPayload(&h); err != nil {
			return err
		}
		ce := &ConnectError{}
		if len(h.Payload) > 0 && h.Payload[0] == '"' {
			_ = json.Unmarshal(h.Payload, &ce.Message)
		} else if h.Payload != nil {
			var body struct {
				Message string          `json:"message"`
				Data    json.RawMessage `json:"data"`
			}
			_ = json.Unmarshal(h.Payload, &body)
			ce.Message, ce.Data = body.Message, body.Data
		}
		if s := cc.socket(h.Nsp); s != nil {
			cc.refuse(s, ce)
		}
	case codec.SIODisconnect:
		s := cc.socket(h.Nsp)
		if s == nil {
			return nil
		}
		c := cc.cl
		c.mu.Lock()
		was := s.state == stateConnected
		s.state, s.cc, s.active = stateIdle, nil, false
		last := !c.anyActiveLocked()
		c.changedLocked()
		c.mu.Unlock()
		s.acks.failAll(ErrClosed)
		if was {
			if fn := s.handlers().onDisconnect; fn != nil {
				c.safeDisconnect(fn, ReasonIOServerDisconnect, false)
			}
		}
		if last {
			ec.Close(ReasonIOServerDisconnect)
		}
	default:
		return fmt.Errorf("%w: %v from server", codec.ErrSIOPacket, h.Type)
	}
	return nil
}

// refuse marks s refused (no automatic retry, as socket.io) and reports it.
func (cc *clientConn) refuse(s *ClientSocket, ce *ConnectError) {
	c := cc.cl
	c.mu.Lock()
	s.state, s.cc, s.active, s.refused = stateIdle, nil, false, ce
	last := !c.anyActiveLocked()
	c.changedLocked()
	c.mu.Unlock()
	if fn := s.handlers().onConnectError; fn != nil {
		c.safeConnectError(fn, ce)
	}
	if last && cc.ec != nil {
		cc.ec.Close(ReasonIOClientDisconnect)
	}
}

func (cc *clientConn) onClose(reason string) {
	c := cc.cl
	type lost struct {
		s         *ClientSocket
		connected bool
	}
	var gone []lost
	c.mu.Lock()
	for _, s := range c.sockets {
		if s.cc == cc {
			gone = append(gone, lost{s, s.state == stateConnected})
			s.state, s.cc = stateIdle, nil
		}
	}
	again := c.cfg.Reconnect && !c.closed
	c.changedLocked()
	c.mu.Unlock()
	for _, l := range gone {
		l.s.acks.failAll(ErrClosed)
		if !l.connected {
			continue
		}
		if fn := l.s.handlers().onDisconnect; fn != nil {
			c.mu.Lock()
			will := again && l.s.active
			c.mu.Unlock()
			c.safeDisconnect(fn, reason, will)
		}
	}
	close(cc.closed)
}

// safeDisconnect runs an OnDisconnect callback, recovering and logging a
// panic (as the server's conn.safeDisconnect does): it runs on the
// engine's goroutine ending the session, where a panic would take the
// process down, or in Close, which must still stop the client.
func (c *Client) safeDisconnect(fn func(string, bool), reason string, will bool) {
	defer c.logPanic("disconnect handler")
	fn(reason, will)
}

// logPanic, deferred around a call of application code, recovers a panic
// in it and logs it at Error as what panicked.
func (c *Client) logPanic(what string) {
	if r := recover(); r != nil {
		c.log.Error(what+" panic", "panic", r, "stack", string(debug.Stack()))
	}
}

// safeAuth calls the auth callback; a panic in it is logged, and ok is
// false (the CONNECT is refused rather than sent without the payload).
func (c *Client) safeAuth(fn func() json.RawMessage) (auth json.RawMessage, ok bool) {
	defer c.logPanic("auth callback") // on a panic, ok stays false
	return fn(), true
}

// safeConnectError calls the connect-error handler, logging a panic in it.
func (c *Client) safeConnectError(fn func(*ConnectError), ce *ConnectError) {
	defer c.logPanic("connect error handler")
	fn(ce)
}

type sockState uint8

const (
	stateIdle sockState = iota
	stateConnecting
	stateConnected
)

// ClientSocket is one namespace of a Client. Safe for concurrent use.
type ClientSocket struct {
	cl  *Client
	nsp string

	// Guarded by cl.mu.
	auth    func() json.RawMessage
	state   sockState
	active  bool          // wants to be connected
	cc      *clientConn   // session it is connecting/connected on
	sid     string        // from the CONNECT reply
	refused *ConnectError // last refusal since Connect

	hmu            sync.RWMutex
	on             map[string]func(Message, Ack) // guarded by hmu
	onConnect      func()
	onDisconnect   func(reason string, willReconnect bool)
	onConnectError func(err *ConnectError)

	acks ackTable
}

type clientHandlers struct {
	on             map[string]func(Message, Ack)
	onConnect      func()
	onDisconnect   func(string, bool)
	onConnectError func(*ConnectError)
}

func (s *ClientSocket) handlers() clientHandlers {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	return clientHandlers{s.on, s.onConnect, s.onDisconnect, s.onConnectError}
}

// On registers the handler for event (replacing any). Handlers run in the
// connection's reader, one at a time.
func (s *ClientSocket) On(event string, h func(m Message, ack Ack)) {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	on := make(map[string]func(Message, Ack), len(s.on)+1)
	for k, v := range s.on {
		on[k] = v
	}
	on[event] = h
	s.on = on
}

// OnConnect is called on every successful (re)connection of the namespace.
func (s *ClientSocket) OnConnect(fn func()) {
	s.hmu.Lock()
	s.onConnect = fn
	s.hmu.Unlock()
}

// OnDisconnect reports reason and whether the client will reconnect.
func (s *ClientSocket) OnDisconnect(fn func(reason string, willReconnect bool)) {
	s.hmu.Lock()
	s.onDisconnect = fn
	s.hmu.Unlock()
}

// OnConnectError reports a refused CONNECT (the namespace is then not retried).
func (s *ClientSocket) OnConnectError(fn func(err *ConnectError)) {
	s.hmu.Lock()
	s.onConnectError = fn
	s.hmu.Unlock()
}

// Connected reports whether the namespace is connected now.
func (s *ClientSocket) Connected() bool {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	return s.state == stateConnected
}

// ID returns the socket id the server assigned on the last connection.
func (s *ClientSocket) ID() string {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	return s.sid
}

// Namespace returns the namespace name.
func (s *ClientSocket) Namespace() string { return s.nsp }

func (s *ClientSocket) conn() (*clientConn, error) {
	s.cl.mu.Lock()
	defer s.cl.mu.Unlock()
	if s.state != stateConnected || s.cc == nil || s.cc.ec == nil {
		return nil, ErrNotConnected
	}
	return s.cc, nil
}

// Emit sends event; ErrNotConnected while the namespace is not connected.
// It blocks while the connection's send queue is full.
func (s *ClientSocket) Emit(event string, m Message) error {
	cc, err := s.conn()
	if err != nil {
		return err
	}
	buf, err := appendEvent(make([]byte, 0, estimateSize(s.nsp, event, m.Args)), s.nsp, -1, event, m)
	if err != nil {
		return err
	}
	return sendPacket(cc.ec, buf, m.Attachments)
}

// EmitWithAck sends event and waits for the ack, ctx's deadline or the
// AckTimeout, whichever comes first; ErrClosed if the connection drops.
func (s *ClientSocket) EmitWithAck(ctx context.Context, event string, m Message) (Message, error) {
	cc, err := s.conn()
	if err != nil {
		return Message{}, err
	}
	cfg := &s.cl.cfg
	return waitAck(ctx, &s.acks, cfg.MaxPendingAcks, cfg.AckTimeout, cc.closed, func(id int64) error {
		return s.emitID(cc, event, m, id)
	})
}

// EmitWithAckFunc sends event and arranges for fn to receive the ack or
// ErrAckTimeout after timeout (AckTimeout when zero) or ErrClosed, without
// waiting. When it returns an error fn is never called.
func (s *ClientSocket) EmitWithAckFunc(event string, m Message, timeout time.Duration, fn func(Message, error)) error {
	cc, err := s.conn()
	if err != nil {
		return err
	}
	cfg := &s.cl.cfg
	if timeout <= 0 {
		timeout = cfg.AckTimeout
	}
	return callbackAck(&s.acks, s.cl.log, cfg.MaxPendingAcks, timeout, fn, func(id int64) error {
		return s.emitID(cc, event, m, id)
	})
}

func (s *ClientSocket) emitID(cc *clientConn, event string, m Message, id int64) error {
	buf, err := appendEvent(make([]byte, 0, estimateSize(s.nsp, event, m.Args)+8), s.nsp, id, event, m)
	if err != nil {
		return err
	}
	return sendPacket(cc.ec, buf, m.Attachments)
}

// ackFor answers the server's event id on session ec; only the first call sends.
func (s *ClientSocket) ackFor(ec engineConn, id int64) Ack {
	var used atomic.Bool
	return func(m Message) error {
		if !used.CompareAndSwap(false, true) {
			return nil
		}
		buf, err := appendAck(make([]byte, 0, estimateSize(s.nsp, "", m.Args)+8), s.nsp, id, m)
		if err != nil {
			return err
		}
		return sendPacket(ec, buf, m.Attachments)
	}
}
