package sio

import (
	"maps"
	"sync"
	"sync/atomic"
)

// Namespace is a set of handlers and the sockets connected to it. Its
// methods are safe for concurrent use; register handlers before serving
// (later registrations apply to later events).
type Namespace struct {
	name string
	srv  *Server

	hmu      sync.Mutex // serialises handler registration
	handlers atomic.Pointer[nsHandlers]

	mu      sync.RWMutex
	sockets map[string]*Socket // by id; guarded by mu
}

// nsHandlers is immutable once published; registration copies it.
type nsHandlers struct {
	on         map[string]Handler
	any        func(s *Socket, event string, m Message, ack Ack)
	connect    func(s *Socket) error
	connection func(s *Socket)
	disconnect func(s *Socket, reason string)
}

func newNamespace(srv *Server, name string) *Namespace {
	n := &Namespace{name: name, srv: srv, sockets: make(map[string]*Socket)}
	n.handlers.Store(&nsHandlers{})
	return n
}

// update applies fn to a copy of the handlers and publishes it.
func (n *Namespace) update(fn func(h *nsHandlers)) {
	n.hmu.Lock()
	defer n.hmu.Unlock()
	h := *n.handlers.Load()
	fn(&h)
	n.handlers.Store(&h)
}

// Name returns the namespace name ("/" or "/name").
func (n *Namespace) Name() string { return n.name }

// OnConnect sets the hook run for each CONNECT before the socket joins. A
// non-nil error refuses it with CONNECT_ERROR {"message": err.Error()}
// (the npm client surfaces it as "connect_error"); a *ConnectError adds data.
// The hook runs in the connection's reader; packets the socket emits from
// it reach the client before the CONNECT reply (socket.io clients buffer them).
func (n *Namespace) OnConnect(fn func(s *Socket) error) {
	n.update(func(h *nsHandlers) { h.connect = fn })
}

// OnConnection sets a callback run after a socket joined and its CONNECT
// reply was queued (socket.io's "connection" event), in its reader.
func (n *Namespace) OnConnection(fn func(s *Socket)) {
	n.update(func(h *nsHandlers) { h.connection = fn })
}

// OnDisconnect is called once per socket that had connected.
func (n *Namespace) OnDisconnect(fn func(s *Socket, reason string)) {
	n.update(func(h *nsHandlers) { h.disconnect = fn })
}

// On registers the handler for event. Events without one go to OnAny if set,
// else are ignored.
func (n *Namespace) On(event string, h Handler) {
	n.update(func(hs *nsHandlers) {
		on := maps.Clone(hs.on)
		if on == nil {
			on = make(map[string]Handler)
		}
		on[event] = h
		hs.on = on
	})
}

// OnAny handles events that have no specific handler.
func (n *Namespace) OnAny(fn func(s *Socket, event string, m Message, ack Ack)) {
	n.update(func(h *nsHandlers) { h.any = fn })
}

// Sockets returns the connected sockets (a snapshot).
func (n *Namespace) Sockets() []*Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]*Socket, 0, len(n.sockets))
	for _, s := range n.sockets {
		out = append(out, s)
	}
	return out
}

// Socket returns the connected socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.sockets[id]
}

// Len returns the number of connected sockets.
func (n *Namespace) Len() int {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return len(n.sockets)
}

// Broadcast queues p for every connected socket of the namespace and
// returns the number of sockets it was queued for. It never waits: a
// socket whose send queue is full is cut off at once as a slow consumer
// (Socket.TrySend), so that stalled clients do not delay the others (with
// Send, each could hold the fan-out for its StallTimeout).
func (n *Namespace) Broadcast(p *Encoded) int {
	sent := 0
	for _, s := range n.Sockets() {
		if s.TrySend(p) == nil {
			sent++
		}
	}
	return sent
}

func (n *Namespace) add(s *Socket) {
	n.mu.Lock()
	n.sockets[s.id] = s
	n.mu.Unlock()
}

func (n *Namespace) remove(s *Socket) {
	n.mu.Lock()
	delete(n.sockets, s.id)
	n.mu.Unlock()
}
