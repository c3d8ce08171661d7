package tracker

import (
	"github.com/switchboard-lb/switchboard/internal/ratelimit"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Event names sent to tracker clients.
const (
	EventServers      = "servers"
	EventServerJoined = "server_joined"
	EventServerLeft   = "server_left"
)

// ReasonFlood is the disconnect reason of a client that sent too many events.
const ReasonFlood = "flood"

// Tracker is the browsers' endpoint. It is an http.Handler for the engine
// path and for Path+"/servers" (see ServeHTTP). Safe for concurrent use.
type Tracker struct {
	cfg     Config
	reg     *backend.Registry
	log     *slog.Logger
	srv     *sio.Server
	nsp     *sio.Namespace
	lim     *ratelimit.Limiter
	origins originChecker
	trusted []netip.Prefix
	now     func() time.Time

	unsubscribe func()
	wake        chan struct{} // cap 1: pending has events

	mu      sync.Mutex
	pending []backend.Event // guarded by mu
	resync  bool            // guarded by mu: pending overflowed; send the whole list
	closed  bool            // guarded by mu
	runs    sync.WaitGroup  // Run calls in progress; Add under mu while !closed

	sendMu sync.Mutex
	state  []*backend.Backend        // guarded by sendMu: the pool as clients know it
	shown  map[*backend.Backend]bool // guarded by sendMu: members shown to clients (taking new work)
	view   atomic.Pointer[view]

	done      chan struct{}
	closeOnce sync.Once

	endMu sync.Mutex
	ended map[string]struct{} // guarded by endMu: sessions whose "/" socket left (keys of endQ)
	endQ  []endedSession      // guarded by endMu: the same, oldest first

	unknownEvents, floods, rateLimited, originRefused, full, slow, changes, resyncs atomic.Int64
}

// endedSession is a session whose "/" socket left, remembered until sio
// has closed it for having no namespace.
type endedSession struct {
	sid   string
	until time.Time
}

// reasonReconnect closes a session that CONNECTs again after its "/"
// socket left.
const reasonReconnect = "connect after disconnect"

// view is the list as last sent: JSON for GET <path>/servers and the
// `servers` packet for new clients, both encoded once.
type view struct {
	json []byte // with a trailing newline
	enc  *sio.Encoded
	n    int // entries listed
}

// entry is one backend as tracker clients see it.
type entry struct {
	ID      string          `json:"id"`
	Address string          `json:"address,omitempty"`
	URL     string          `json:"url"`
	Meta    json.RawMessage `json:"meta"`
}

// New returns a Tracker serving reg's pool. It subscribes to reg's changes
// (queued until Run sends them) and starts no goroutines. It fails on an
// invalid AllowedOrigins or TrustedProxies entry.
func New(cfg Config, reg *backend.Registry, logger *slog.Logger) (*Tracker, error) {
	cfg = cfg.withDefaults()
	trusted, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "tracker")
	t := &Tracker{
		cfg:     cfg,
		reg:     reg,
		log:     logger,
		origins: newOriginChecker(cfg.AllowedOrigins),
		trusted: trusted,
		now:     time.Now,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		ended:   make(map[string]struct{}),
	}
	t.lim = ratelimit.New(cfg.RatePerSecond, cfg.Burst, func() time.Time { return t.now() })
	t.srv = sio.NewServer(sio.Config{
		Config: eio.Config{
			PingInterval:    cfg.PingInterval,
			PingTimeout:     cfg.PingTimeout,
			MaxPayloadBytes: cfg.MaxPayloadBytes,
			SendQueue:       cfg.SendQueue,
			StallTimeout:    cfg.StallTimeout,
			// Origins are checked (and CORS headers set) in ServeHTTP, which
			// also knows the same-origin rule.
		},
		ConnectTimeout: cfg.ConnectTimeout,
		MaxPendingAcks: 1,
		MaxAttachments: 1,
	}, logger)
	t.nsp = t.srv.Of("/")
	t.nsp.OnConnection(t.onConnection)
	t.nsp.OnAny(t.onEvent)
	t.nsp.OnConnect(t.onConnect)
	t.nsp.OnDisconnect(func(s *sio.Socket, reason string) {
		switch reason {
		case sio.ReasonSlowConsumer:
			t.slow.Add(1)
		case sio.ReasonClientDisconnect, ReasonFlood:
			// The socket left, the session stays open a little (the
			// npm client closes it on its side at once, sio after
			// lingering): it gets no other socket.
			t.markEnded(s.SessionID())
		}
	})

	// Subscribe first, then read the pool: a change in between is both in
	// the state and queued, and applying it again changes nothing.
	t.unsubscribe = reg.Subscribe(t.enqueue)
	t.sendMu.Lock()
	t.setStateLocked(reg.Snapshot())
	t.buildViewLocked()
	t.sendMu.Unlock()
	return t, nil
}

// Path returns the engine path the tracker serves (after defaults).
func (t *Tracker) Path() string { return t.cfg.Path }

// enqueue is the registry subscriber: it never blocks.
func (t *Tracker) enqueue(ev backend.Event) {
	t.mu.Lock()
	if len(t.pending) >= t.cfg.MaxPending {
		t.pending, t.resync = nil, true
	} else if !t.resync {
		t.pending = append(t.pending, ev)
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
}

// Run sends pool changes to the clients until ctx ends or Close is called;
// it returns nil then. Without Run, changes are queued (bounded by
// MaxPending) and clients see only the list as of New.
func (t *Tracker) Run(ctx context.Context) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.runs.Add(1)
	t.mu.Unlock()
	defer t.runs.Done()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.done:
			return nil
		case <-t.wake:
		}
		t.mu.Lock()
		evs, resync := t.pending, t.resync
		t.pending, t.resync = nil, false
		t.mu.Unlock()
		t.apply(evs, resync)
	}
}

// apply updates the clients' view with evs (or the whole pool on resync)
// and sends each change once to every client.
func (t *Tracker) apply(evs []backend.Event, resync bool) {
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	if resync {
		t.setStateLocked(t.reg.Snapshot())
		t.buildViewLocked()
		t.resyncs.Add(1)
		t.nsp.Broadcast(t.view.Load().enc)
		return
	}
	// The list first (GET <path>/servers and new clients), then the changes.
	var out []*sio.Encoded
	changed := false
	for _, ev := range evs {
		name, applied := t.applyLocked(ev)
		if !applied {
			continue
		}
		changed = true
		if name == "" {
			continue // a change among backends clients do not see
		}
		e, ok := t.entry(ev.Backend)
		if !ok {
			continue
		}
		p, err := encode(name, e)
		if err != nil {
			t.log.Error("encode change", "err", err, "backend_id", ev.Backend.ID)
			continue
		}
		out = append(out, p)
	}
	if changed {
		t.buildViewLocked()
	}
	for _, p := range out {
		t.changes.Add(1)
		start := time.Now()
		n := t.nsp.Broadcast(p)
		t.log.LogAttrs(context.Background(), slog.LevelDebug, "change sent", slog.Int("clients", n), slog.Duration("duration", time.Since(start)))
	}
}

// setStateLocked makes pool the state, showing the members that take new
// work.
func (t *Tracker) setStateLocked(pool []*backend.Backend) {
	t.state = append([]*backend.Backend(nil), pool...)
	t.shown = make(map[*backend.Backend]bool, len(pool))
	for _, b := range pool {
		t.shown[b] = b.TakesNewWork()
	}
}

// applyLocked applies ev to the state. It reports whether the state
// changed, and the event clients get for it: server_joined when a backend
// becomes shown, server_left when it stops being shown, "" when clients
// see no difference. A backend is shown while it is in the pool and takes
// new work (not draining, not failing its health checks): browsers are not
// sent to a backend the proxy no longer sends new users to.
func (t *Tracker) applyLocked(ev backend.Event) (event string, changed bool) {
	b := ev.Backend
	if b == nil {
		return "", false
	}
	i := -1
	for j, x := range t.state {
		if x.ID == b.ID {
			i = j
			break
		}
	}
	switch ev.Kind {
	case backend.Joined:
		wasShown := false
		if i >= 0 {
			old := t.state[i]
			if old == b {
				return "", false
			}
			wasShown = t.shown[old]
			delete(t.shown, old)
			t.state = append(t.state[:i:i], t.state[i+1:]...)
		}
		t.state = append(t.state[:len(t.state):len(t.state)], b)
		show := b.TakesNewWork()
		t.shown[b] = show
		return transition(wasShown, show), true // joined also refreshes a replaced entry
	case backend.Left:
		if i < 0 || t.state[i] != b {
			return "", false
		}
		t.state = append(t.state[:i:i], t.state[i+1:]...)
		wasShown := t.shown[b]
		delete(t.shown, b)
		return transition(wasShown, false), true
	case backend.Changed:
		if i < 0 || t.state[i] != b {
			return "", false
		}
		show := b.TakesNewWork()
		if show == t.shown[b] {
			return "", false
		}
		wasShown := t.shown[b]
		t.shown[b] = show
		return transition(wasShown, show), true
	}
	return "", false
}

// transition is the event clients get for a backend they saw (was) and now
// see or not (now): server_joined whenever it is shown (a refresh, if it
// was already), server_left when it stops being shown, none otherwise.
func transition(was, now bool) string {
	switch {
	case now:
		return EventServerJoined
	case was:
		return EventServerLeft
	}
	return ""
}

// entry returns what clients see of b; false when b is not shown (no public
// URL and ShowInternal off).
func (t *Tracker) entry(b *backend.Backend) (entry, bool) {
	e := entry{ID: b.ID, URL: b.PublicURL, Meta: b.Meta}
	if t.cfg.ShowInternal && b.URL != nil {
		e.Address = b.URL.String()
		if e.URL == "" {
			e.URL = e.Address
		}
	}
	if len(e.Meta) > 0 && !json.Valid(e.Meta) {
		e.Meta = nil
	}
	return e, e.URL != ""
}

// buildViewLocked encodes the state as the `servers` list.
func (t *Tracker) buildViewLocked() {
	list := make([]entry, 0, len(t.state))
	for _, b := range t.state {
		if !t.shown[b] {
			continue
		}
		if e, ok := t.entry(b); ok {
			list = append(list, e)
		}
	}
	raw, err := json.Marshal(list)
	if err != nil { // entries are strings and valid JSON: cannot happen
		panic(fmt.Sprintf("tracker: encode list: %v", err))
	}
	p, err := sio.Encode("/", EventServers, sio.Args(raw))
	if err != nil {
		panic(fmt.Sprintf("tracker: encode list: %v", err))
	}
	t.view.Store(&view{json: append(raw, '\n'), enc: p, n: len(list)})
}

func encode(event string, e entry) (*sio.Encoded, error) {
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("marshal %s: %w", event, err)
	}
	return sio.Encode("/", event, sio.Args(raw))
}

// onConnection sends the list to a new client. Holding sendMu orders it
// with the fan-out: the client is already in the namespace, so every later
// change reaches it after the list.
//
// The socket's event bucket is its session's: a session has one "/"
// socket at most (onConnect). The CONNECT takes the bucket's first token.
func (t *Tracker) onConnection(s *sio.Socket) {
	now := t.now()
	b := ratelimit.NewBucket(t.cfg.EventBurst, now)
	b.Take(now, t.cfg.EventRate, float64(t.cfg.EventBurst))
	s.SetData(b)
	t.sendMu.Lock()
	err := s.Send(t.view.Load().enc)
	t.sendMu.Unlock()
	if err != nil {
		t.log.LogAttrs(context.Background(), slog.LevelDebug, "send list", slog.String("err", err.Error()))
	}
}

// onConnect refuses a second CONNECT on a session whose "/" socket left
// (a DISCONNECT from the client, or a flood) and closes that session: a
// socket, and so an event bucket and a copy of the list, costs a
// handshake, which the per-IP limit counts. The npm client never does
// this: it closes its session after its last DISCONNECT and reconnects
// with a new one.
func (t *Tracker) onConnect(s *sio.Socket) error {
	if !t.hasEnded(s.SessionID()) {
		return nil
	}
	t.log.LogAttrs(context.Background(), slog.LevelInfo, "client connecting again on its session: closed",
		slog.String("session_id", s.SessionID()), slog.String("remote", s.RemoteAddr()))
	s.CloseTransport(reasonReconnect)
	return errReconnect
}

var errReconnect = errors.New("tracker: connect again with a new session")

// markEnded records that sid's "/" socket left. sio closes a session left
// without namespaces within ConnectTimeout (the npm client closes it at
// once); twice that is kept, in case its timer runs late.
func (t *Tracker) markEnded(sid string) {
	now := t.now()
	t.endMu.Lock()
	defer t.endMu.Unlock()
	t.expireLocked(now)
	if _, ok := t.ended[sid]; ok {
		return
	}
	t.ended[sid] = struct{}{}
	t.endQ = append(t.endQ, endedSession{sid: sid, until: now.Add(2 * t.cfg.ConnectTimeout)})
}

// hasEnded reports whether sid's "/" socket left.
func (t *Tracker) hasEnded(sid string) bool {
	now := t.now()
	t.endMu.Lock()
	defer t.endMu.Unlock()
	t.expireLocked(now)
	_, ok := t.ended[sid]
	return ok
}

// expireLocked forgets the sessions sio has closed by now. Entries share
// one lifetime, so endQ is in expiry order.
func (t *Tracker) expireLocked(now time.Time) {
	i := 0
	for ; i < len(t.endQ) && !now.Before(t.endQ[i].until); i++ {
		delete(t.ended, t.endQ[i].sid)
	}
	if i == len(t.endQ) {
		t.endQ = t.endQ[:0]
	} else {
		t.endQ = t.endQ[i:]
	}
}

var readOnly = json.RawMessage(`{"ok":false,"code":"READ_ONLY","message":"the tracker is read-only: it accepts no events"}`)

// onEvent handles everything a client sends: nothing changes state; it is
// counted, and a client over the event rate is disconnected. DISCONNECT
// rather than closing the session at once: the npm client takes a close
// packet that follows a DISCONNECT closely for a transport failure and
// reconnects, while after a DISCONNECT alone it stays away, and closes
// its session itself. A client that does not is closed by sio within
// ConnectTimeout, or at its next CONNECT (onConnect).
func (t *Tracker) onEvent(s *sio.Socket, event string, _ sio.Message, ack sio.Ack) {
	t.unknownEvents.Add(1)
	b, _ := s.Data().(*ratelimit.Bucket)
	if b == nil || !b.Take(t.now(), t.cfg.EventRate, float64(t.cfg.EventBurst)) {
		t.floods.Add(1)
		t.log.LogAttrs(context.Background(), slog.LevelInfo, "client flooding: disconnected",
			slog.String("session_id", s.SessionID()), slog.String("remote", s.RemoteAddr()))
		s.Disconnect(ReasonFlood)
		return
	}
	if ack != nil {
		_ = ack(sio.Args(readOnly))
	}
}

// ServeHTTP serves the engine path (exactly Path and Path+"/") and
// Path+"/servers". It checks the browser origin on every request and, for
// Engine.IO handshakes, the per-IP rate and MaxClients.
func (t *Tracker) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == t.cfg.Path+"/servers" {
		t.serveList(w, r)
		return
	}
	if !t.checkOrigin(w, r) {
		return
	}
	if r.Method == http.MethodOptions {
		t.preflight(w, r)
		return
	}
	if r.Method == http.MethodGet && r.URL.Query().Get("sid") == "" {
		if t.srv.Engine().Len() >= t.cfg.MaxClients {
			t.full.Add(1)
			refuse(w, http.StatusServiceUnavailable, "too many tracker clients")
			return
		}
		if !t.lim.Allow(ratelimit.ClientIP(r, t.trusted)) {
			t.rateLimited.Add(1)
			refuse(w, http.StatusTooManyRequests, "too many connections from this address")
			return
		}
	}
	t.srv.ServeHTTP(w, r)
}

// ServersHandler returns the handler of GET Path+"/servers" alone, for a
// mux that routes that path separately.
func (t *Tracker) ServersHandler() http.Handler { return http.HandlerFunc(t.serveList) }

func (t *Tracker) serveList(w http.ResponseWriter, r *http.Request) {
	if !t.checkOrigin(w, r) {
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodOptions:
		t.preflight(w, r)
		return
	default:
		w.Header().Set("Allow", "GET, HEAD, OPTIONS")
		refuse(w, http.StatusMethodNotAllowed, "method not allowed")
		return
	}
	body := t.view.Load().json
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		_, _ = w.Write(body)
	}
}

// checkOrigin refuses a browser request from an origin not allowed (403)
// and sets the CORS headers for a listed one.
func (t *Tracker) checkOrigin(w http.ResponseWriter, r *http.Request) bool {
	if !t.origins.ok(r) {
		t.originRefused.Add(1)
		refuse(w, http.StatusForbidden, "origin not allowed")
		return false
	}
	if origin := r.Header.Get("Origin"); origin != "" && t.origins.listed(origin) {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	return true
}

func (t *Tracker) preflight(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	if origin == "" || !t.origins.listed(origin) {
		refuse(w, http.StatusBadRequest, "not a CORS preflight from an allowed origin")
		return
	}
	eio.WritePreflight(w, r)
}

// refuse answers with a JSON error shaped like engine.io's.
func refuse(w http.ResponseWriter, status int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{4, msg})
	_, _ = w.Write(b)
}

// Stats are the tracker's counters since New.
type Stats struct {
	Clients       int   `json:"clients" metric:"gauge"`  // connected clients (namespace sockets)
	Sessions      int   `json:"sessions" metric:"gauge"` // open Engine.IO sessions
	Servers       int   `json:"servers" metric:"gauge"`  // backends listed
	UnknownEvents int64 `json:"unknown_events"`          // events received from clients (all ignored)
	Floods        int64 `json:"floods"`                  // clients disconnected for sending too many events
	RateLimited   int64 `json:"rate_limited"`            // handshakes refused by the per-IP limit
	OriginRefused int64 `json:"origin_refused"`          // requests refused for their Origin
	Full          int64 `json:"full"`                    // handshakes refused at MaxClients
	SlowConsumers int64 `json:"slow_consumers"`          // clients cut off because their queue was full
	Changes       int64 `json:"changes"`                 // server_joined/server_left sent (each to every client)
	Resyncs       int64 `json:"resyncs"`                 // whole lists sent after the change queue overflowed
}

// Stats returns the counters. Safe for concurrent use.
func (t *Tracker) Stats() Stats {
	return Stats{
		Clients:       t.nsp.Len(),
		Sessions:      t.srv.Engine().Len(),
		Servers:       t.view.Load().n,
		UnknownEvents: t.unknownEvents.Load(),
		Floods:        t.floods.Load(),
		RateLimited:   t.rateLimited.Load(),
		OriginRefused: t.originRefused.Load(),
		Full:          t.full.Load(),
		SlowConsumers: t.slow.Load(),
		Changes:       t.changes.Load(),
		Resyncs:       t.resyncs.Load(),
	}
}

// Close stops Run, unsubscribes from the registry, closes every client
// session and waits for the tracker's goroutines. Idempotent.
func (t *Tracker) Close() {
	t.closeOnce.Do(func() {
		t.unsubscribe()
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		close(t.done)
		t.runs.Wait()
		t.srv.Close()
	})
}
