package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Client is one backend's membership of Switchboard's pool. It is safe for
// concurrent use. Create it with Dial (or Serve); stop it with Close.
//
// Calls that talk to the hub (Join, Send, Drain …) wait while the client is
// reconnecting, until it is registered again or their ctx ends; use a ctx
// with a deadline (or check Connected) to fail fast instead. When the hub's
// answer is lost with the connection, the call returns an error and its
// outcome is unknown (a message may or may not have been routed).
type Client struct {
	cfg  config
	log  *slog.Logger
	hubs []hub

	ctx    context.Context // cancelled by Close: ends the supervisor
	cancel context.CancelFunc
	done   chan struct{} // closed when the supervisor has exited
	first  chan struct{} // closed on the first registration

	// window holds one token per SendMessageAsync message awaiting its
	// answer (capacity: cfg.maxInFlight).
	window chan struct{}
	stats  batchStats // packets SendMessageAsync wrote (tests, benchmarks)

	onMessage atomic.Pointer[func(Message)]
	onJoined  atomic.Pointer[func(Server)]
	onLeft    atomic.Pointer[func(Server)]

	// opMu is held shared by the presence and room calls from picking the
	// connection until the held sets are updated, and exclusively by a
	// resync while it snapshots them: a claim acked on the old connection
	// is therefore always in the snapshot the new connection re-claims.
	// Order: opMu before mu.
	opMu sync.RWMutex

	mu       sync.Mutex          // guards the fields below
	cn       *conn               // the registered connection; nil while (re)connecting
	up       chan struct{}       // closed while cn != nil
	names    map[string]struct{} // names held (claimed and acked)
	rooms    map[string]struct{} // rooms joined
	draining bool                // Drain was called: re-sent after a reconnect
	err      error               // why the client stopped (ErrClosed from Close on); set before done closes
	lastErr  error               // the last connection failure (for Dial's error)
	id       string              // backend ID the hub gave the current session
	addr     string              // address the hub registered
	hubURL   string              // the hub of the current connection
	// own counts, by goroutine ID, the goroutines running client callbacks
	// that the supervisor may wait for: itself, the live connection's
	// reader, and those in a failure callback (ownGoroutine). Close called
	// on one of them must not wait for the supervisor.
	own map[uint64]int

	closeOnce sync.Once
}

// hub is one hub URL split into the Engine.IO base URL and the namespace.
type hub struct {
	base string
	nsp  string
}

func parseHub(raw string) (hub, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return hub{}, fmt.Errorf("client: hub URL %q: %w", raw, err)
	}
	switch u.Scheme {
	case "http", "https":
	case "ws":
		u.Scheme = "http"
	case "wss":
		u.Scheme = "https"
	default:
		return hub{}, fmt.Errorf("client: hub URL %q: scheme must be http or https", raw)
	}
	if u.Host == "" {
		return hub{}, fmt.Errorf("client: hub URL %q: no host", raw)
	}
	nsp := strings.TrimRight(u.Path, "/")
	if nsp == "" {
		nsp = DefaultNamespace
	}
	return hub{base: u.Scheme + "://" + u.Host, nsp: nsp}, nil
}

// conn is one Socket.IO connection to one hub.
type conn struct {
	hub      hub
	sc       *sio.Client
	sock     *sio.ClientSocket
	batch    *batcher      // SendMessageAsync's queue on this connection
	down     chan struct{} // closed on disconnect
	downOnce sync.Once
	reason   string // written before down is closed
	replaced atomic.Bool
	// broken: a message handler panicked. Nothing more is handed over or
	// confirmed on this connection (the supervisor is closing it), so the
	// hub gives the rest back in order when the session ends.
	broken atomic.Bool
	// release unmarks the reader goroutine (set by it on CONNECT; called
	// by close, once the reader has exited).
	release func()
}

func (cn *conn) setDown(reason string) {
	cn.downOnce.Do(func() {
		cn.reason = reason
		close(cn.down)
	})
}

// close closes the Socket.IO client and waits for its goroutines (the
// supervisor's job: a callback must not).
func (cn *conn) close() {
	_ = cn.sc.Close()
	if cn.release != nil {
		cn.release()
		cn.release = nil
	}
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ error }

func (e permanentError) Unwrap() error { return e.error }

// Dial connects to the first reachable hub of hubURLs (trying them in turn),
// announces the backend's address (WithAddress is required) and returns once
// the hub accepted it. It fails when ctx ends first, or at once on a
// permanent refusal (ErrUnauthorized, ErrBadAddress, a bad option). A hub
// URL is "http://host:port" (namespace /list) or "http://host:port/nsp".
//
// The returned client keeps itself registered until Close: it reconnects
// with backoff, rotating through hubURLs when one is unreachable, and
// restores its address, names and rooms on every new connection.
func Dial(ctx context.Context, hubURLs []string, opts ...Option) (*Client, error) {
	c, err := newClient(hubURLs, opts)
	if err != nil {
		return nil, err
	}
	if c.cfg.address == "" {
		return nil, errors.New("client: no address: use WithAddress (or Serve, which derives it)")
	}
	c.start()
	if err := c.waitFirst(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

func newClient(hubURLs []string, opts []Option) (*Client, error) {
	if len(hubURLs) == 0 {
		return nil, errors.New("client: no hub URL")
	}
	cfg := defaultConfig()
	for _, o := range opts {
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	c := &Client{cfg: cfg, names: map[string]struct{}{}, rooms: map[string]struct{}{}, own: map[uint64]int{}}
	for _, raw := range hubURLs {
		h, err := parseHub(raw)
		if err != nil {
			return nil, err
		}
		c.hubs = append(c.hubs, h)
	}
	c.log = cfg.logger
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("component", "switchboard-client")
	if cfg.rand == nil {
		c.cfg.rand = rand.Float64
	}
	if cfg.onMessage != nil {
		c.OnMessage(cfg.onMessage)
	}
	if cfg.onJoined != nil {
		c.OnServerJoined(cfg.onJoined)
	}
	if cfg.onLeft != nil {
		c.OnServerLeft(cfg.onLeft)
	}
	c.window = make(chan struct{}, cfg.maxInFlight)
	c.up = make(chan struct{})
	c.done = make(chan struct{})
	c.first = make(chan struct{})
	return c, nil
}

func (c *Client) start() {
	c.ctx, c.cancel = context.WithCancel(context.Background())
	go c.run()
}

// waitFirst waits for the first registration; on failure the client is closed.
func (c *Client) waitFirst(ctx context.Context) error {
	select {
	case <-c.first:
		return nil
	case <-c.done:
		return c.Err()
	case <-ctx.Done():
	}
	c.mu.Lock()
	last := c.lastErr
	c.mu.Unlock()
	_ = c.Close()
	if last != nil {
		return fmt.Errorf("client: dial: %w", errors.Join(ctx.Err(), last))
	}
	return fmt.Errorf("client: dial: %w", ctx.Err())
}

// OnMessage sets the handler of messages routed to this backend (replacing
// any). It runs on the connection's reader, one message at a time, in the
// hub's order; see the package doc about what it must not do, and about a
// handler that panics (the message is delivered again after a reconnect).
func (c *Client) OnMessage(fn func(Message)) { c.onMessage.Store(&fn) }

// OnServerJoined sets the handler told when another backend joins the pool.
// It runs like OnMessage's handler.
func (c *Client) OnServerJoined(fn func(Server)) { c.onJoined.Store(&fn) }

// OnServerLeft sets the handler told when another backend leaves the pool.
// It runs like OnMessage's handler.
func (c *Client) OnServerLeft(fn func(Server)) { c.onLeft.Store(&fn) }

// Close disconnects from the hub and stops reconnecting; it waits for the
// client's goroutines. It does not release names: the hub keeps them
// orphaned for its grace period (30 s by default), so a backend restarting
// at once (or another backend its users reconnect to) re-claims them with
// the messages held meanwhile. Call Leave first to release them at once.
// Idempotent; later calls fail with ErrClosed (or what stopped the client).
//
// Called from a callback of this client (a handler, the NameLost callback,
// a SendMessageAsync done), Close does not wait, as the goroutines it would
// wait for include the one it runs on: it stops the client and returns.
// Done is closed once the client's goroutines have exited.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		if c.cancel != nil {
			c.cancel()
		}
	})
	id := goroutineID()
	c.mu.Lock()
	if c.err == nil {
		c.err = ErrClosed // calls made from here on fail at once
	}
	own := id != 0 && c.own[id] > 0
	c.mu.Unlock()
	if !own && c.done != nil {
		<-c.done
	}
	return nil
}

// ownGoroutine marks the calling goroutine as one the supervisor may wait
// for, so that Close called on it does not wait, until release is called.
func (c *Client) ownGoroutine() (release func()) {
	id := goroutineID()
	if id == 0 { // not parsed: Close waits, as it always did
		return func() {}
	}
	c.mu.Lock()
	c.own[id]++
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		if c.own[id]--; c.own[id] <= 0 {
			delete(c.own, id)
		}
		c.mu.Unlock()
	}
}

// goroutineID returns the calling goroutine's ID, read from the header
// runtime.Stack writes ("goroutine 42 [running]:"), or 0 if it cannot. Go
// has no API for it on purpose, and the client uses it only so that Close
// recognises its own goroutines: never as goroutine-local state. It costs a
// few microseconds: keep it off the per-message path.
func goroutineID() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b, _ = bytes.CutPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i > 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}

// recoverCallback, deferred around a call of application code on one of the
// client's goroutines, recovers a panic in it and logs it: the goroutine
// (the reader, the supervisor, a timer …) goes on.
func (c *Client) recoverCallback(callback string) {
	if r := recover(); r != nil {
		c.log.Error("callback panicked", "callback", callback, "panic", r, "stack", string(debug.Stack()))
	}
}

// Done is closed when the client has stopped: after Close, or on a final
// failure (ErrReplaced, ErrUnauthorized, ErrBadAddress …) that Err gives.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the client stopped (ErrClosed once Close was called), or
// nil while it runs.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Connected reports whether the client is registered on a hub right now.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cn != nil
}

// ID returns the backend ID the hub gave the current (or last) session. It
// changes with every connection.
func (c *Client) ID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.id
}

// Address returns the address the hub registered (after an unspecified
// host was replaced), or "" before the first registration.
func (c *Client) Address() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.addr
}

// Hub returns the base URL of the hub of the current (or last) connection.
func (c *Client) Hub() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hubURL
}

// Names returns the names the client holds, sorted.
func (c *Client) Names() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.names)
}

// Rooms returns the rooms the client has joined, sorted.
func (c *Client) Rooms() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return sortedKeys(c.rooms)
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// run is the supervisor: connect, register, resync, wait for the
// disconnect, repeat, until Close or a final failure.
func (c *Client) run() {
	defer c.ownGoroutine()() // it runs NameLost and done callbacks
	var final error
	defer func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = final
		}
		c.mu.Unlock()
		close(c.done)
	}()
	idx, attempt, flaps := 0, 0, 0
	for {
		if c.ctx.Err() != nil {
			final = ErrClosed
			return
		}
		h := c.hubs[idx]
		cn, lost, err := c.establish(h)
		if err != nil {
			var pe permanentError
			if errors.As(err, &pe) {
				c.log.Error("hub refused this backend", "hub", h.base, "err", pe.error)
				final = pe.error
				return
			}
			if c.ctx.Err() != nil {
				final = ErrClosed
				return
			}
			c.mu.Lock()
			c.lastErr = err
			c.mu.Unlock()
			idx = (idx + 1) % len(c.hubs)
			d := sio.Backoff(attempt/len(c.hubs), c.cfg.backoffMin, c.cfg.backoffMax, c.cfg.rand())
			attempt++
			c.log.Warn("hub unreachable", "hub", h.base, "err", err, "retry_in", d, "next_hub", c.hubs[idx].base)
			if !c.sleep(d) {
				final = ErrClosed
				return
			}
			continue
		}
		attempt = 0
		c.mu.Lock()
		c.cn = cn
		c.hubURL = h.base
		close(c.up)
		c.mu.Unlock()
		select {
		case <-c.first:
		default:
			close(c.first)
		}
		c.reportLost(lost)
		since := time.Now()
		if c.cfg.onReady != nil {
			c.cfg.onReady()
		}

		select {
		case <-cn.down:
		case <-c.ctx.Done():
		}
		c.mu.Lock()
		c.cn = nil
		c.up = make(chan struct{})
		c.mu.Unlock()
		cn.close()       // fails the acks still pending on it
		cn.batch.close() // and the messages not written yet
		cn.setDown(sio.ReasonIOClientDisconnect)
		if c.cfg.onDown != nil {
			c.cfg.onDown()
		}
		switch {
		case c.ctx.Err() != nil:
			final = ErrClosed
			return
		case cn.replaced.Load():
			c.log.Error("replaced by another session announcing this address; not reconnecting", "hub", h.base)
			final = ErrReplaced
			return
		case cn.reason == sio.ReasonIOServerDisconnect:
			c.log.Error("hub disconnected this backend; not reconnecting", "hub", h.base)
			final = ErrDisconnected
			return
		}
		c.log.Warn("hub connection lost; reconnecting", "hub", h.base, "reason", cn.reason)
		// The next attempt goes to the same hub first (a blip is the usual
		// cause); a failure rotates to the next. A connection that lasted
		// less than the longest backoff counts as a flap: repeated flaps
		// back off as failures do, so a hub that keeps cutting this backend
		// off (e.g. as a slow consumer) is not hammered.
		if time.Since(since) < c.cfg.backoffMax {
			flaps++
			if flaps > 1 && !c.sleep(sio.Backoff(flaps-2, c.cfg.backoffMin, c.cfg.backoffMax, c.cfg.rand())) {
				final = ErrClosed
				return
			}
		} else {
			flaps = 0
		}
	}
}

// sleep waits d or until Close; false on Close.
func (c *Client) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.ctx.Done():
		return false
	}
}

// lostName is a name a resync could not re-claim.
type lostName struct{ name, holder string }

func (c *Client) reportLost(lost []lostName) {
	if len(lost) == 0 {
		return
	}
	fn := c.cfg.nameLost
	for _, l := range lost {
		c.log.Warn("name lost during reconnect", "user", l.name, "holder", l.holder)
		if fn != nil {
			c.nameLost(fn, l)
		}
	}
}

func (c *Client) nameLost(fn func(name, holder string), l lostName) {
	defer c.recoverCallback("NameLost")
	fn(l.name, l.holder)
}

// establish connects to h, announces the address and restores the names,
// rooms and drain state. On error the connection is closed.
func (c *Client) establish(h hub) (*conn, []lostName, error) {
	cn, err := c.connect(h)
	if err != nil {
		return nil, nil, err
	}
	lost, err := c.resync(cn)
	if err != nil {
		cn.close()
		return nil, nil, err
	}
	return cn, lost, nil
}

func (c *Client) connect(h hub) (*conn, error) {
	sc := sio.NewClient(h.base, sio.ClientConfig{
		DialConfig: eio.DialConfig{Config: eio.Config{WriteLinger: c.cfg.writeLinger}, Path: c.cfg.path, TLS: c.cfg.tls},
		AckTimeout: c.cfg.ackTimeout,
		// Room for every asynchronous message in flight plus the
		// synchronous calls (whose own bound is the sio default).
		MaxPendingAcks: c.cfg.maxInFlight + sio.DefaultMaxPendingAcks,
		Logger:         c.log,
	})
	var auth func() json.RawMessage
	if c.cfg.token != "" {
		b, _ := json.Marshal(struct {
			Token string `json:"token"`
		}{c.cfg.token})
		auth = func() json.RawMessage { return b }
	}
	sock := sc.Socket(h.nsp, auth)
	cn := &conn{hub: h, sc: sc, sock: sock, down: make(chan struct{})}
	cn.batch = newBatcher(c, sock)
	// The CONNECT reply is read by the reader goroutine that then runs
	// every handler and ack of this connection: mark it, until the
	// connection is closed (close), for Close.
	sock.OnConnect(func() {
		if cn.release == nil {
			cn.release = c.ownGoroutine()
		}
	})
	sock.On("message", func(m sio.Message, ack sio.Ack) { c.handleMessage(cn, m, ack) })
	sock.On("server_joined", func(m sio.Message, _ sio.Ack) { c.handleServer(m, &c.onJoined) })
	sock.On("server_left", func(m sio.Message, _ sio.Ack) { c.handleServer(m, &c.onLeft) })
	sock.On("error", func(m sio.Message, _ sio.Ack) { c.handleError(cn, m) })
	sock.OnDisconnect(func(reason string, _ bool) { cn.setDown(reason) })
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.dialTimeout)
	defer cancel()
	if err := sc.Connect(ctx); err != nil {
		cn.close()
		var ce *sio.ConnectError
		if errors.As(err, &ce) && strings.HasPrefix(ce.Message, "unauthorized") {
			return nil, permanentError{&HubError{Event: "connect", Code: CodeUnauthorized, Message: ce.Message}}
		}
		return nil, fmt.Errorf("connect %s: %w", h.base, err)
	}
	return cn, nil
}

// addressOptions is the second argument of `address`.
type addressOptions struct {
	Weight int             `json:"weight,omitempty"`
	URL    string          `json:"url,omitempty"`
	Meta   json.RawMessage `json:"meta,omitempty"`
	// Ack: we acknowledge every direct message once OnMessage has returned,
	// so the hub gives back what was in flight if this process dies.
	Ack bool `json:"ack"`
	// Batch: we take `message` events carrying an array of deliveries.
	Batch bool `json:"batch,omitempty"`
}

// resync announces the address, then re-claims the held names, re-joins
// the rooms and re-sends drain. Names the hub refuses for good are removed
// from the held set and returned.
func (c *Client) resync(cn *conn) ([]lostName, error) {
	ctx := c.ctx
	b, err := json.Marshal(addressOptions{Weight: c.cfg.weight, URL: c.cfg.publicURL, Meta: c.cfg.meta, Ack: true, Batch: c.cfg.batching})
	if err != nil {
		return nil, permanentError{fmt.Errorf("client: encode address options: %w", err)}
	}
	args := []json.RawMessage{jsonString(c.cfg.address), b}
	raw, err := c.emit(ctx, cn, "address", sio.Message{Args: args})
	if err != nil {
		return nil, err
	}
	var ar struct {
		failure
		ID      string `json:"id"`
		Address string `json:"address"`
	}
	if err := json.Unmarshal(raw, &ar); err != nil {
		return nil, fmt.Errorf("client: address: bad reply: %w", err)
	}
	if !ar.OK {
		e := ar.failure.err("address")
		if transient(ar.Code) {
			return nil, e
		}
		return nil, permanentError{e}
	}

	// Snapshot what to restore. Calls acked on the old connection have
	// finished (its acks failed when it closed); new calls wait for this
	// connection to be published, after the resync.
	c.opMu.Lock()
	c.mu.Lock()
	c.id, c.addr = ar.ID, ar.Address
	names := sortedKeys(c.names)
	rooms := sortedKeys(c.rooms)
	draining := c.draining
	c.mu.Unlock()
	c.opMu.Unlock()
	c.log.Info("registered", "hub", cn.hub.base, "backend_id", ar.ID, "backend_addr", ar.Address,
		"names", len(names), "rooms", len(rooms))

	var lost []lostName
	if len(names) > 0 {
		b, _ := json.Marshal(names)
		raw, err := c.emit(ctx, cn, "join_subs", sio.Args(b))
		if err != nil {
			return nil, err
		}
		var pr presenceReply
		if err := json.Unmarshal(raw, &pr); err != nil {
			return nil, fmt.Errorf("client: join_subs: bad reply: %w", err)
		}
		for _, f := range pr.Failed {
			if transient(f.Code) {
				return nil, f.err("join_subs")
			}
			lost = append(lost, lostName{f.Name, f.Holder})
		}
		if !pr.OK && len(pr.Failed) == 0 {
			return nil, pr.failure.err("join_subs")
		}
		// Names left (Leave) since the snapshot were re-claimed for
		// nothing: release them.
		c.mu.Lock()
		var stale []string
		for _, n := range pr.Joined {
			if _, ok := c.names[n]; !ok {
				stale = append(stale, n)
			}
		}
		c.mu.Unlock()
		if len(stale) > 0 {
			b, _ := json.Marshal(stale)
			if _, err := c.emit(ctx, cn, "leave_subs", sio.Args(b)); err != nil {
				return nil, err
			}
		}
	}
	var badRooms []string
	for _, r := range rooms {
		raw, err := c.emit(ctx, cn, "join_room", sio.Args(jsonString(r)))
		if err != nil {
			return nil, err
		}
		var f failure
		if err := json.Unmarshal(raw, &f); err != nil {
			return nil, fmt.Errorf("client: join_room: bad reply: %w", err)
		}
		if !f.OK {
			if transient(f.Code) {
				return nil, f.err("join_room")
			}
			c.log.Warn("room refused on reconnect", "room", r, "err", f.err("join_room"))
			badRooms = append(badRooms, r)
			continue
		}
		c.mu.Lock()
		_, still := c.rooms[r]
		c.mu.Unlock()
		if !still { // left (LeaveRoom) since the snapshot
			if _, err := c.emit(ctx, cn, "leave_room", sio.Args(jsonString(r))); err != nil {
				return nil, err
			}
		}
	}
	if draining {
		raw, err := c.emit(ctx, cn, "drain", sio.Message{})
		if err != nil {
			return nil, err
		}
		var f failure
		switch err := json.Unmarshal(raw, &f); {
		case err != nil:
			return nil, fmt.Errorf("client: drain: bad reply: %w", err)
		case f.OK:
		case transient(f.Code):
			return nil, f.err("drain")
		default:
			// A hub that does not know drain (UNKNOWN_EVENT, BAD_REQUEST)
			// refuses it on every connection: reconnecting would loop.
			// Stay registered without draining; Drain reports the refusal.
			c.log.Error("hub refused drain after reconnect; serving without draining", "hub", cn.hub.base, "err", f.err("drain"))
		}
	}
	if len(lost) > 0 || len(badRooms) > 0 {
		c.mu.Lock()
		for _, l := range lost {
			delete(c.names, l.name)
		}
		for _, r := range badRooms {
			delete(c.rooms, r)
		}
		c.mu.Unlock()
	}
	return lost, nil
}

// current waits until the client is registered and returns the connection.
func (c *Client) current(ctx context.Context) (*conn, error) {
	for {
		c.mu.Lock()
		cn, up, err := c.cn, c.up, c.err
		c.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if cn != nil {
			return cn, nil
		}
		select {
		case <-up:
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// emit sends event and returns the first argument of the ack.
func (c *Client) emit(ctx context.Context, cn *conn, event string, m sio.Message) (json.RawMessage, error) {
	res, err := cn.sock.EmitWithAck(ctx, event, m)
	if err != nil {
		return nil, fmt.Errorf("client: %s: %w", event, err)
	}
	if len(res.Args) == 0 {
		return nil, fmt.Errorf("client: %s: empty reply", event)
	}
	return res.Args[0], nil
}

func (c *Client) handleServer(m sio.Message, h *atomic.Pointer[func(Server)]) {
	fn := h.Load()
	if fn == nil || len(m.Args) == 0 {
		return
	}
	var s Server
	if err := json.Unmarshal(m.Args[0], &s); err != nil {
		c.log.Warn("bad pool event from hub", "err", err)
		return
	}
	(*fn)(s)
}

func (c *Client) handleError(cn *conn, m sio.Message) {
	if len(m.Args) == 0 {
		return
	}
	var f failure
	if err := json.Unmarshal(m.Args[0], &f); err != nil {
		return
	}
	if f.Code == CodeReplaced {
		cn.replaced.Store(true)
		return
	}
	c.log.Warn("error from hub", "event", f.Event, "code", f.Code, "message", f.Message)
}

// Server describes another backend of the pool (server_joined / server_left).
type Server struct {
	ID      string          `json:"id"`      // the hub's backend ID
	Address string          `json:"address"` // the URL Switchboard proxies to
	URL     string          `json:"url"`     // its public URL (default: Address)
	Meta    json.RawMessage `json:"meta"`    // what it announced (JSON null when none)
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}
