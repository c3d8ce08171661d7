package sio

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Server is a Socket.IO server. Register namespaces with Of before serving.
// Safe for concurrent use.
type Server struct {
	cfg Config
	log *slog.Logger
	eng *eio.Server

	mu     sync.RWMutex
	nsps   map[string]*Namespace // guarded by mu
	conns  map[*conn]struct{}    // guarded by mu
	closed atomic.Bool
	live   sync.WaitGroup // one per conn until its OnClose finished
}

// NewServer returns a Server. It starts no goroutines.
func NewServer(cfg Config, logger *slog.Logger) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:   cfg.withDefaults(),
		log:   logger.With("component", "sio"),
		nsps:  make(map[string]*Namespace),
		conns: make(map[*conn]struct{}),
	}
	s.eng = eio.NewServer(s.cfg.Config, logger, func(ec *eio.Conn) eio.Handler { return s.accept(ec) })
	return s
}

// ServeHTTP handles the engine path (mount it at exactly that path).
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.eng.ServeHTTP(w, r) }

// Engine returns the underlying Engine.IO server (for its Len, or to mount
// it behind custom routing).
func (s *Server) Engine() *eio.Server { return s.eng }

// Of returns the namespace nsp ("/" or "/name"), creating it. Namespaces
// not created are refused with "Invalid namespace".
func (s *Server) Of(nsp string) *Namespace {
	if nsp == "" {
		nsp = "/"
	}
	if nsp[0] != '/' {
		nsp = "/" + nsp
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.nsps[nsp]
	if n == nil {
		n = newNamespace(s, nsp)
		s.nsps[nsp] = n
	}
	return n
}

func (s *Server) lookup(nsp []byte) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if len(nsp) == 0 {
		return s.nsps["/"]
	}
	return s.nsps[string(nsp)]
}

// Close disconnects every socket (ReasonServerShutdown) and closes every
// session, without DISCONNECT packets so that clients reconnect (to this
// server's successor). It waits until every OnDisconnect has returned.
// Idempotent.
func (s *Server) Close() {
	s.mu.Lock() // accept counts a conn in live only under mu and before closed
	if s.closed.Swap(true) {
		s.mu.Unlock()
		s.live.Wait()
		return
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.eng.Close()
	for _, c := range conns {
		c.ec.Close(ReasonServerShutdown)
	}
	s.live.Wait()
}

// accept wires a new Engine.IO session.
func (s *Server) accept(ec engineConn) *conn {
	c := &conn{srv: s, ec: ec}
	c.re.MaxAttachments = s.cfg.MaxAttachments
	c.re.MaxBytes = s.cfg.MaxPayloadBytes
	s.mu.Lock()
	if !s.closed.Load() {
		// Counted only before Close has looked: a live.Add concurrent
		// with Close's live.Wait would be a WaitGroup misuse.
		c.counted = true
		s.live.Add(1)
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	if !c.counted {
		// Raced with Close: the engine refuses it too; make sure.
		ec.Close(ReasonServerShutdown)
	}
	c.timer = time.AfterFunc(s.cfg.ConnectTimeout, c.onConnectTimeout)
	return c
}

// conn is one Engine.IO session: the namespaces multiplexed on it.
type conn struct {
	srv   *Server
	ec    engineConn
	timer *time.Timer // connect timeout, re-armed when the last namespace leaves

	mu     sync.Mutex
	root   *Socket            // guarded by mu: the socket on "/"
	others map[string]*Socket // guarded by mu: other namespaces (created lazily)
	n      int                // guarded by mu: connected sockets
	done   bool               // guarded by mu: OnClose ran

	counted bool // in srv.live and srv.conns (set by accept, then read-only)

	re codec.Reassembler // reader only
}

// OnMessage implements eio.Handler.
func (c *conn) OnMessage(_ *eio.Conn, m eio.Message) { c.onMessage(m) }

// OnClose implements eio.Handler.
func (c *conn) OnClose(_ *eio.Conn, reason string) { c.onClose(reason) }

func (c *conn) fail(reason string, err error) {
	c.srv.log.LogAttrs(context.Background(), slog.LevelDebug, "closing session", slog.String("session_id", c.ec.ID()), slog.String("reason", reason), slog.Any("err", err))
	c.ec.Close(reason)
}

func (c *conn) onConnectTimeout() {
	c.mu.Lock()
	idle := c.n == 0 && !c.done
	c.mu.Unlock()
	if idle {
		c.ec.Close(ReasonConnectTimeout)
	}
}

func (c *conn) socket(nsp []byte) *Socket {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(nsp) == 0 {
		return c.root
	}
	return c.others[string(nsp)]
}

func (c *conn) onMessage(m eio.Message) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("handler panic", "session_id", c.ec.ID(), "panic", r, "stack", string(debug.Stack()))
			c.ec.Close(ReasonTransportError)
		}
	}()
	h, atts, done, err := c.re.Feed(m.Data, m.Binary)
	if err != nil {
		if errors.Is(err, codec.ErrSIOTooLarge) {
			c.fail(ReasonTooLarge, err)
		} else {
			c.fail(ReasonParseError, err)
		}
		return
	}
	if !done {
		return
	}
	switch h.Type {
	case codec.SIOEvent, codec.SIOBinaryEvent:
		name, args, err := codec.SplitEvent(h.Payload, nil)
		if err != nil {
			c.fail(ReasonParseError, err)
			return
		}
		if s := c.socket(h.Nsp); s != nil && !s.closed.Load() {
			s.dispatch(name, Message{Args: args, Attachments: atts}, h.ID)
		}
		// else: a namespace not (or no longer) connected: a packet in
		// flight when the server disconnected it; dropped.
	case codec.SIOAck, codec.SIOBinaryAck:
		args, err := codec.SplitArray(h.Payload, nil)
		if err != nil {
			c.fail(ReasonParseError, err)
			return
		}
		if s := c.socket(h.Nsp); s != nil {
			s.acks.resolve(h.ID, Message{Args: args, Attachments: atts})
		}
	case codec.SIOConnect:
		if err := codec.CheckSIOPayload(&h); err != nil {
			c.fail(ReasonParseError, err)
			return
		}
		c.onConnect(h)
	case codec.SIODisconnect:
		if s := c.socket(h.Nsp); s != nil {
			c.leave(s, ReasonClientDisconnect, nil)
		}
	default: // CONNECT_ERROR is server to client only
		c.fail(ReasonParseError, fmt.Errorf("%w: %v from client", codec.ErrSIOPacket, h.Type))
	}
}

func (c *conn) onConnect(h codec.SIOHeader) {
	name := h.NspString()
	ns := c.srv.lookup(h.Nsp)
	if ns == nil {
		_ = c.ec.Send(eio.Message{Data: codec.AppendConnectError(nil, name, "Invalid namespace", nil)})
		return
	}
	if c.socket(h.Nsp) != nil {
		c.fail(ReasonParseError, fmt.Errorf("%w: second CONNECT to %s", codec.ErrSIOPacket, name))
		return
	}
	s := &Socket{c: c, ns: ns, id: newSocketID(), done: make(chan struct{})}
	if h.Payload != nil {
		s.auth = json.RawMessage(h.Payload)
	}
	hs := ns.handlers.Load()
	if hs.connect != nil {
		if err := hs.connect(s); err != nil {
			var ce *ConnectError
			var data json.RawMessage
			if errors.As(err, &ce) {
				data = ce.Data
			}
			_ = c.ec.Send(eio.Message{Data: codec.AppendConnectError(nil, name, err.Error(), data)})
			return
		}
	}
	c.mu.Lock()
	if c.done {
		c.mu.Unlock()
		return
	}
	if len(h.Nsp) == 0 {
		c.root = s
	} else {
		if c.others == nil {
			c.others = make(map[string]*Socket, 1)
		}
		c.others[name] = s
	}
	c.n++
	c.mu.Unlock()
	c.timer.Stop()
	ns.add(s)
	reply := make([]byte, 0, 48+len(name))
	reply = codec.AppendConnect(reply, name, nil)
	reply = append(reply, `{"sid":"`...)
	reply = append(reply, s.id...)
	reply = append(reply, `"}`...)
	if err := c.ec.Send(eio.Message{Data: reply}); err != nil {
		return // the session is closing; OnClose reports the socket
	}
	if hs.connection != nil {
		hs.connection(s)
	}
}

// leave removes s from the session and reports it to OnDisconnect; notify,
// if set, runs in between (Disconnect sends the DISCONNECT there: after the
// socket left, so that a client closing the session on receipt cannot make
// OnClose report the socket first with another reason).
//
// When s was the last namespace the session is closed after lingerTimeout,
// unless the client closes it first (socket.io clients do, at once).
// Closing it ourselves right after a DISCONNECT would race it on polling:
// the npm client handles a close packet before a DISCONNECT decoded from
// the same payload, takes the disconnect for a transport failure and
// reconnects.
func (c *conn) leave(s *Socket, reason string, notify func()) {
	c.mu.Lock()
	if c.root == s {
		c.root = nil
	} else if c.others[s.ns.name] == s {
		delete(c.others, s.ns.name)
	} else {
		c.mu.Unlock()
		return
	}
	c.n--
	last := c.n == 0 && !c.done
	c.mu.Unlock()
	if !s.finish() {
		return
	}
	if notify != nil {
		notify()
	}
	if last {
		c.timer.Reset(min(c.srv.cfg.ConnectTimeout, lingerTimeout))
	}
	if fn := s.ns.handlers.Load().disconnect; fn != nil {
		fn(s, reason)
	}
}

// lingerTimeout bounds how long a session without namespaces stays open.
const lingerTimeout = 5 * time.Second

func (c *conn) onClose(reason string) {
	c.mu.Lock()
	if c.done { // eio reports once; be safe anyway
		c.mu.Unlock()
		return
	}
	if c.counted {
		defer c.srv.live.Done()
	}
	c.timer.Stop()
	c.done = true
	var socks []*Socket
	if c.root != nil {
		socks = append(socks, c.root)
	}
	for _, s := range c.others {
		socks = append(socks, s)
	}
	c.root, c.others, c.n = nil, nil, 0
	c.mu.Unlock()
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
	for _, s := range socks {
		if s.finish() {
			if fn := s.ns.handlers.Load().disconnect; fn != nil {
				c.safeDisconnect(fn, s, reason)
			}
		}
	}
}

// safeDisconnect runs an OnDisconnect callback on the engine's goroutine,
// where a panic would otherwise take the process down.
func (c *conn) safeDisconnect(fn func(*Socket, string), s *Socket, reason string) {
	defer func() {
		if r := recover(); r != nil {
			c.srv.log.Error("disconnect handler panic", "session_id", c.ec.ID(), "panic", r, "stack", string(debug.Stack()))
		}
	}()
	fn(s, reason)
}

// newSocketID returns 20 random URL-safe characters (socket.io's id length).
func newSocketID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
