package eio

import (
	"crypto/rand"
	"encoding/base64"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// Error codes of the JSON bodies engine.io answers refused requests with.
const (
	codeUnknownTransport = 0
	codeUnknownSID       = 1
	codeBadHandshake     = 2
	codeBadRequest       = 3
	codeForbidden        = 4
	codeUnsupported      = 5
)

var errorBodies = [...]string{
	codeUnknownTransport: `{"code":0,"message":"Transport unknown"}`,
	codeUnknownSID:       `{"code":1,"message":"Session ID unknown"}`,
	codeBadHandshake:     `{"code":2,"message":"Bad handshake method"}`,
	codeBadRequest:       `{"code":3,"message":"Bad request"}`,
	codeForbidden:        `{"code":4,"message":"Forbidden"}`,
	codeUnsupported:      `{"code":5,"message":"Unsupported protocol version"}`,
}

// Server serves Engine.IO sessions at one path. Mount ServeHTTP at that path
// (exact match, with or without trailing slash): ServeHTTP itself does not
// look at the path, so a mux pattern that also matches sub-paths
// ("/socket.io/" in net/http.ServeMux matches "/socket.io/x") must be
// avoided — use "/socket.io/{$}" or an exact check in front.
//
// Lock order: Server.mu, then Conn.mu (never the reverse while holding).
type Server struct {
	cfg     Config
	log     *slog.Logger
	accept  func(c *Conn) Handler
	wg      sync.WaitGroup // every session goroutine (readers, writers, probes)
	open    atomic.Int64
	anyOrig bool

	mu       sync.RWMutex
	sessions map[string]*Conn // guarded by mu; includes closed polling sessions in their grace
	shutdown bool             // guarded by mu
}

// NewServer returns a Server; accept is called for each new session and
// returns its Handler (before any message is delivered). It starts no goroutines.
func NewServer(cfg Config, logger *slog.Logger, accept func(c *Conn) Handler) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{
		cfg:      cfg.withDefaults(),
		log:      logger.With("component", "eio"),
		accept:   accept,
		sessions: make(map[string]*Conn),
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" {
			s.anyOrig = true
		}
	}
	return s
}

// Len returns the number of open sessions.
func (s *Server) Len() int { return int(s.open.Load()) }

// Close closes every session with ReasonServerShutdown (flushing what is
// queued, bounded by WriteTimeout), refuses new ones, and waits for the
// sessions' goroutines. Idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	s.shutdown = true
	all := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.Close(ReasonServerShutdown)
	}
	s.wg.Wait()
	s.mu.Lock()
	for id, c := range s.sessions {
		delete(s.sessions, id)
		c.mu.Lock()
		c.stopTimerLocked()
		c.mu.Unlock()
	}
	s.mu.Unlock()
}

// closed is called once per session by closeWith.
func (s *Server) closed(c *Conn, removeNow bool) {
	s.open.Add(-1)
	if removeNow {
		s.remove(c)
	}
}

func (s *Server) remove(c *Conn) {
	s.mu.Lock()
	if s.sessions[c.id] == c {
		delete(s.sessions, c.id)
	}
	s.mu.Unlock()
}

func (s *Server) lookup(sid string) *Conn {
	s.mu.RLock()
	c := s.sessions[sid]
	s.mu.RUnlock()
	return c
}

// originAllowed reports whether origin may use the server from a browser.
func (s *Server) originAllowed(origin string) bool {
	if s.anyOrig {
		return true
	}
	for _, o := range s.cfg.AllowedOrigins {
		if strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

// ServeHTTP handles one Engine.IO request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	corsOK := origin != "" && len(s.cfg.AllowedOrigins) > 0 && s.originAllowed(origin)
	if corsOK {
		h := w.Header()
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
		h.Add("Vary", "Origin")
	}
	if r.Method == http.MethodOptions {
		if !corsOK {
			writeError(w, codeBadRequest)
			return
		}
		WritePreflight(w, r)
		return
	}

	q := r.URL.Query()
	transport := q.Get("transport")
	if (transport != TransportPolling && transport != TransportWebSocket) || !s.cfg.allows(transport) {
		writeError(w, codeUnknownTransport)
		return
	}
	upgrade := ws.IsUpgrade(r)
	if upgrade && transport != TransportWebSocket {
		writeError(w, codeBadRequest)
		return
	}
	if sid := q.Get("sid"); sid != "" {
		c := s.lookup(sid)
		if c == nil {
			writeError(w, codeUnknownSID)
			return
		}
		if q.Get("EIO") != "4" {
			writeError(w, codeBadRequest)
			return
		}
		if upgrade {
			s.serveUpgrade(w, r, c, origin)
			return
		}
		c.mu.Lock()
		mismatch := c.transport != transPolling && c.state == stateOpen
		c.mu.Unlock()
		if transport != TransportPolling || mismatch {
			// Includes HTTP requests for a session upgraded to WebSocket.
			writeError(w, codeBadRequest)
			return
		}
		switch r.Method {
		case http.MethodGet:
			s.servePoll(w, r, c)
		case http.MethodPost:
			s.serveData(w, r, c)
		default:
			writeError(w, codeBadRequest)
		}
		return
	}
	if r.Method != http.MethodGet {
		writeError(w, codeBadHandshake)
		return
	}
	if transport == TransportWebSocket && !upgrade {
		writeError(w, codeBadRequest)
		return
	}
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			s.log.LogAttrs(r.Context(), slog.LevelDebug, "handshake refused", slog.String("err", err.Error()))
			writeError(w, codeForbidden)
			return
		}
	}
	if q.Get("EIO") != "4" {
		writeError(w, codeUnsupported)
		return
	}
	if upgrade {
		s.handshakeWebSocket(w, r, origin)
		return
	}
	s.handshakePolling(w, r)
}

// writeError answers a refused request the way engine.io does.
func writeError(w http.ResponseWriter, code int) {
	status := http.StatusBadRequest
	if code == codeForbidden {
		status = http.StatusForbidden
	}
	body := errorBodies[code]
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// newSession builds a session, queues its open packet and asks accept for
// its handler. It does not register it.
func (s *Server) newSession(r *http.Request, transport uint8, remote string) *Conn {
	c := &Conn{
		id:         newSID(),
		cfg:        &s.cfg,
		srv:        s,
		grp:        &s.wg,
		remoteAddr: remote,
		header:     r.Header,
		rawQuery:   r.URL.RawQuery,
		done:       make(chan struct{}),
		transport:  transport,
	}
	s.open.Add(1) // closeWith takes it back, even if accept closes c
	upgrades := transport == transPolling && s.cfg.allows(TransportWebSocket)
	c.queue = append(c.queue, codec.EIOPacket{Type: codec.EIOOpen, Data: s.openPacket(c.id, upgrades)})
	return c
}

// register publishes c; false if the server is shutting down.
func (s *Server) register(c *Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.shutdown || c.state != stateOpen {
		return false
	}
	s.sessions[c.id] = c
	c.armLocked(s.cfg.PingInterval)
	return true
}

// openPacket is the handshake JSON (engine.io-protocol, "Handshake").
func (s *Server) openPacket(sid string, upgrades bool) []byte {
	b := make([]byte, 0, 128)
	b = append(b, `{"sid":"`...)
	b = append(b, sid...)
	if upgrades {
		b = append(b, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `","upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, s.cfg.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, s.cfg.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, s.cfg.MaxPayloadBytes, 10)
	return append(b, '}')
}

func (s *Server) handshakePolling(w http.ResponseWriter, r *http.Request) {
	c := s.newSession(r, transPolling, r.RemoteAddr)
	c.h = s.accept(c)
	if !s.register(c) {
		c.closeWith(ReasonServerShutdown, false)
		http.Error(w, "session refused", http.StatusServiceUnavailable)
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "session open",
		slog.String("session_id", c.id), slog.String("transport", TransportPolling))
	s.servePoll(w, r, c)
}

func (s *Server) wsConfig() ws.Config {
	return ws.Config{MaxMessageBytes: s.cfg.MaxPayloadBytes, WriteTimeout: s.cfg.WriteTimeout, ReadCoalesce: s.cfg.serverReadCoalesce()}
}

// wsOriginOK refuses a browser WebSocket from an origin not allowed.
func (s *Server) wsOriginOK(w http.ResponseWriter, origin string) bool {
	if origin != "" && len(s.cfg.AllowedOrigins) > 0 && !s.originAllowed(origin) {
		writeError(w, codeForbidden)
		return false
	}
	return true
}

func (s *Server) handshakeWebSocket(w http.ResponseWriter, r *http.Request, origin string) {
	if !s.wsOriginOK(w, origin) {
		return
	}
	wsc, err := ws.Accept(w, r, s.wsConfig())
	if err != nil {
		return // Accept answered
	}
	c := s.newSession(r, transWebSocket, wsc.RemoteAddr().String())
	c.ws = wsc
	c.refs = 1 // the reader, started below
	c.h = s.accept(c)
	if !s.register(c) {
		c.closeWith(ReasonServerShutdown, false)
		c.leave() // the reader that never started
		return
	}
	s.log.LogAttrs(r.Context(), slog.LevelDebug, "session open",
		slog.String("session_id", c.id), slog.String("transport", TransportWebSocket))
	s.wg.Add(1)
	c.mu.Lock()
	c.kickLocked() // the open packet
	c.mu.Unlock()
	go c.wsReadLoop(wsc)
}

// serveUpgrade accepts the WebSocket a polling session probes with.
func (s *Server) serveUpgrade(w http.ResponseWriter, r *http.Request, c *Conn, origin string) {
	if !s.wsOriginOK(w, origin) {
		return
	}
	c.mu.Lock()
	ok := c.state == stateOpen && c.transport == transPolling && c.upgrade == upNone
	if ok {
		c.upgrade = upAccepted // refuse a second probe while we hijack
	}
	c.mu.Unlock()
	if !ok {
		writeError(w, codeBadRequest)
		return
	}
	wsc, err := ws.Accept(w, r, s.wsConfig())
	if err != nil {
		c.mu.Lock()
		if c.upgrade == upAccepted && c.probe == nil {
			c.upgrade = upNone
		}
		c.mu.Unlock()
		return
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		_ = wsc.Close()
		return
	}
	c.probe = wsc
	s.wg.Add(1)
	c.mu.Unlock()
	go c.probeLoop(wsc)
}

// newSID returns a random, URL-safe, 20-character session id.
func newSID() string {
	var b [15]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// WritePreflight answers a CORS preflight for an Engine.IO endpoint (GET and
// POST, the headers the browser asked for) with 204. The caller has checked
// the origin and set Access-Control-Allow-Origin.
func WritePreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
	if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
		h.Set("Access-Control-Allow-Headers", rh)
	} else {
		h.Set("Access-Control-Allow-Headers", "Content-Type")
	}
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}
