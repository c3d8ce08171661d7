package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// Config tunes the channel. Zero fields take the defaults given.
type Config struct {
	// Namespace is the Socket.IO namespace backends connect to (default "/list").
	Namespace string
	// Token, if set, must be presented in CONNECT (auth.token) or as the
	// `token` query parameter. Compared in constant time, never logged.
	Token string
	// AllowRemote lets non-loopback peers connect when no Token is set
	// (default false: only loopback peers may then register).
	AllowRemote bool
	// OwnAddrs are Switchboard's own listener addresses ("ip:port"); an
	// `address` pointing at one of them is refused (a proxy loop).
	OwnAddrs []string
	// MaxMetaBytes bounds the `meta` option of `address` (default 4 KiB).
	MaxMetaBytes int64
	// MaxSessions bounds concurrent channel sessions (default 4096).
	MaxSessions int
	// MaxUnconfirmed and MaxUnconfirmedBytes bound the direct messages
	// awaiting one backend's ack (backends that announced ack:true); a
	// backend past either is cut off as a slow consumer (transport closed,
	// so it reconnects) and the messages go back to the mailboxes (defaults
	// 8192 messages, 16 MiB). Before that, once a backend is past half of
	// either bound, the ack of a `message` routed to it is held until it is
	// back to a quarter: senders that bound their unanswered messages slow
	// down instead of pushing it over.
	MaxUnconfirmed      int
	MaxUnconfirmedBytes int64
	// AckWait is how long a direct message waits for the backend's ack
	// before it is logged as unconfirmed and forgotten (default 30s).
	AckWait time.Duration
	// StallTimeout bounds how long a sender waits on a backend whose send
	// queue is full before that backend is cut off as a slow consumer
	// (default 10s).
	StallTimeout time.Duration
	// SIO configures the Socket.IO server (heartbeat, payload and queue
	// bounds); its zero fields take sio's defaults.
	SIO sio.Config
}

func (c *Config) applyDefaults() {
	if c.Namespace == "" {
		c.Namespace = "/list"
	}
	if c.MaxMetaBytes <= 0 {
		c.MaxMetaBytes = 4 << 10
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 4096
	}
	if c.MaxUnconfirmed <= 0 {
		c.MaxUnconfirmed = 8192
	}
	if c.MaxUnconfirmedBytes <= 0 {
		c.MaxUnconfirmedBytes = 16 << 20
	}
	if c.AckWait <= 0 {
		c.AckWait = 30 * time.Second
	}
	if c.StallTimeout <= 0 {
		c.StallTimeout = 10 * time.Second
	}
	if c.SIO.StallTimeout <= 0 {
		c.SIO.StallTimeout = c.StallTimeout
	}
	if c.SIO.MaxPendingAcks < c.MaxUnconfirmed+64 {
		c.SIO.MaxPendingAcks = c.MaxUnconfirmed + 64
	}
}

// Channel is the /list channel. Mount it (ServeHTTP) at the engine path,
// matched exactly. Safe for concurrent use.
type Channel struct {
	cfg  Config
	log  *slog.Logger
	reg  *backend.Registry
	rt   *router.Router
	srv  *sio.Server
	nsp  *sio.Namespace
	own  []netip.AddrPort
	ctx  context.Context // cancelled by Close; bounds router calls
	stop context.CancelFunc
	opc  atomic.Pointer[opCtx] // see opContext
	// maxPacket bounds one packet the channel sends a backend: the
	// payload limit backends read with (the channel's own, as the Go SDK's).
	maxPacket int64
	idLen     int // bound of a message id's length: the node id, a dash, a counter

	mu     sync.Mutex          // guards byAddr, closed
	byAddr map[string]*session // backend Addr → the session holding it
	closed bool

	unsubscribe func()
	closeOnce   sync.Once

	st channelCounters
}

// channelCounters are the Channel's monotonic counters.
type channelCounters struct {
	batchesIn, batchItemsIn, batchesOut, batchItemsOut atomic.Uint64
	cutOff, givenBack, missing, ackTimedOut            atomic.Uint64
}

// Stats is a snapshot of the Channel's counters (monotonic since New) and
// gauges.
type Stats struct {
	Sessions      int    `json:"sessions" metric:"gauge"` // connected /list sockets
	BatchesIn     uint64 `json:"batches_in"`              // `message` arrays received
	BatchItemsIn  uint64 `json:"batch_items_in"`          // messages in them
	BatchesOut    uint64 `json:"batches_out"`             // `message` arrays sent to backends that take batches
	BatchItemsOut uint64 `json:"batch_items_out"`         // deliveries in them
	CutOff        uint64 `json:"cut_off"`                 // backends cut off for too many unconfirmed messages
	GivenBack     uint64 `json:"given_back"`              // unconfirmed deliveries given back to the router by ended sessions
	Missing       uint64 `json:"missing"`                 // deliveries re-routed after a {missing} ack
	AckTimedOut   uint64 `json:"ack_timed_out"`           // deliveries whose ack never came within AckWait: taken as handed over, never given back
}

// Stats returns a snapshot of the counters. Safe for concurrent use.
func (c *Channel) Stats() Stats {
	return Stats{
		Sessions:      c.nsp.Len(),
		BatchesIn:     c.st.batchesIn.Load(),
		BatchItemsIn:  c.st.batchItemsIn.Load(),
		BatchesOut:    c.st.batchesOut.Load(),
		BatchItemsOut: c.st.batchItemsOut.Load(),
		CutOff:        c.st.cutOff.Load(),
		GivenBack:     c.st.givenBack.Load(),
		Missing:       c.st.missing.Load(),
		AckTimedOut:   c.st.ackTimedOut.Load(),
	}
}

// New returns a Channel that registers backends in reg and routes their
// messages through rt. It starts no goroutines.
func New(cfg Config, reg *backend.Registry, rt *router.Router, logger *slog.Logger) (*Channel, error) {
	cfg.applyDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Channel{
		cfg:    cfg,
		log:    logger.With("component", "control"),
		reg:    reg,
		rt:     rt,
		byAddr: make(map[string]*session),
	}
	if rt != nil {
		c.idLen = len(rt.Config().NodeID) + 21
	}
	if c.maxPacket = cfg.SIO.MaxPayloadBytes; c.maxPacket <= 0 {
		c.maxPacket = eio.DefaultMaxPayloadBytes
	}
	for _, a := range cfg.OwnAddrs {
		ap, err := netip.ParseAddrPort(a)
		if err != nil {
			return nil, errors.New("control: own address " + a + ": not ip:port")
		}
		c.own = append(c.own, ap)
	}
	c.ctx, c.stop = context.WithCancel(context.Background())
	if cfg.SIO.ConnectTimeout <= 0 {
		// Backends CONNECT right after the handshake; a session that does
		// not is not one.
		cfg.SIO.ConnectTimeout = channelConnectTimeout
	}
	if cfg.SIO.AllowRequest == nil {
		// Sessions that have not connected the namespace yet count too,
		// or handshakes alone could open sessions without bound.
		cfg.SIO.AllowRequest = func(*http.Request) error {
			if c.srv.Engine().Len() >= c.cfg.MaxSessions {
				return errTooManySessions
			}
			return nil
		}
	}
	c.cfg.SIO = cfg.SIO
	c.srv = sio.NewServer(cfg.SIO, logger)
	c.nsp = c.srv.Of(cfg.Namespace)
	c.nsp.OnConnect(c.authorize)
	c.nsp.OnConnection(c.attach)
	c.nsp.OnDisconnect(c.detach)
	c.registerEvents()
	c.unsubscribe = reg.Subscribe(c.announce)
	return c, nil
}

// ServeHTTP serves the channel's Engine.IO requests.
func (c *Channel) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.srv.ServeHTTP(w, r) }

// Len returns the number of connected channel sessions.
func (c *Channel) Len() int { return c.nsp.Len() }

// Close disconnects every session (their backends leave the pool, their
// names are orphaned) and refuses new ones. Idempotent.
func (c *Channel) Close(ctx context.Context) error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		c.closed = true
		c.mu.Unlock()
		c.srv.Close()
		c.unsubscribe()
		c.stop()
	})
	return nil
}

// channelConnectTimeout bounds the time from a channel session's
// handshake to its CONNECT (Socket.IO's default is 45 s).
const channelConnectTimeout = 10 * time.Second

var errTooManySessions = errors.New("control: too many channel sessions")

// authorize is the CONNECT hook: token, peer and session-count checks.
func (c *Channel) authorize(s *sio.Socket) error {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return &sio.ConnectError{Message: "unavailable: switchboard is shutting down"}
	}
	if c.nsp.Len() >= c.cfg.MaxSessions {
		return &sio.ConnectError{Message: "unavailable: too many channel sessions"}
	}
	if c.cfg.Token != "" {
		var auth struct {
			Token string `json:"token"`
		}
		_ = json.Unmarshal(s.Auth(), &auth)
		tok := auth.Token
		if tok == "" {
			tok = s.Query().Get("token")
		}
		if tok == "" {
			return &sio.ConnectError{Message: "unauthorized: token required (auth: {token})"}
		}
		if subtle.ConstantTimeCompare([]byte(tok), []byte(c.cfg.Token)) != 1 {
			return &sio.ConnectError{Message: "unauthorized: wrong token"}
		}
		return nil
	}
	if !c.cfg.AllowRemote {
		return loopbackOnly(s.RemoteAddr())
	}
	return nil
}

// loopbackOnly refuses a peer (its "host:port") that is not on a loopback
// address, as the channel does when it has no token and remote peers were
// not allowed.
func loopbackOnly(remote string) error {
	if ip := peerIP(remote); !ip.IsValid() || !ip.IsLoopback() {
		return &sio.ConnectError{Message: "unauthorized: without a token only loopback peers may register"}
	}
	return nil
}

func (c *Channel) attach(s *sio.Socket) {
	sess := &session{ch: c, sock: s}
	s.SetData(sess)
}

func (c *Channel) detach(s *sio.Socket, reason string) {
	sess, _ := s.Data().(*session)
	if sess == nil {
		return
	}
	sess.endAs(reason)
}

// announce tells every registered session about a pool change (except the
// backend that changed).
func (c *Channel) announce(ev backend.Event) {
	if ev.Kind == backend.Changed {
		return // backends hear of membership only
	}
	event := "server_joined"
	if ev.Kind == backend.Left {
		event = "server_left"
	}
	b, _ := json.Marshal(serverInfo(ev.Backend))
	enc, err := sio.Encode(c.cfg.Namespace, event, sio.Args(b))
	if err != nil {
		return
	}
	for _, s := range c.nsp.Sockets() {
		sess, _ := s.Data().(*session)
		if sess == nil {
			continue
		}
		if id := sess.BackendID(); id == "" || id == ev.Backend.ID {
			continue
		}
		_ = s.Send(enc)
	}
}

// ServerInfo is the public description of a pool member in server_joined /
// server_left events.
type ServerInfo struct {
	ID      string          `json:"id"`
	Address string          `json:"address"`
	URL     string          `json:"url"`
	Meta    json.RawMessage `json:"meta"`
}

func serverInfo(b *backend.Backend) ServerInfo {
	meta := b.Meta
	if len(meta) == 0 {
		meta = json.RawMessage("null")
	}
	addr := b.URL.String()
	pub := b.PublicURL
	if pub == "" {
		pub = addr
	}
	return ServerInfo{ID: b.ID, Address: addr, URL: pub, Meta: meta}
}

// isOwn reports whether host:port is one of Switchboard's own listeners.
func (c *Channel) isOwn(host string, port uint16) bool {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if host != "localhost" {
			return false
		}
		ip = netip.MustParseAddr("127.0.0.1")
	}
	ip = ip.Unmap()
	for _, o := range c.own {
		if o.Port() != port {
			continue
		}
		oa := o.Addr().Unmap()
		if oa == ip || oa.IsUnspecified() || (oa.IsLoopback() && ip.IsLoopback()) {
			return true
		}
	}
	return false
}

func peerIP(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return ip.Unmap()
}

// opTimeout bounds one router call made for a channel event.
const opTimeout = 10 * time.Second

// opCtx is a shared context for router calls on the relay path, so a
// message does not pay for a context and a timer of its own: it is renewed
// once half of its opTimeout has passed, so a call made with it has between
// opTimeout/2 and opTimeout.
type opCtx struct {
	ctx     context.Context
	cancel  context.CancelFunc // kept for vet; the context ends at its deadline or with Channel.ctx
	renewAt time.Time
}

// opContext returns the channel's current shared router-call context.
func (c *Channel) opContext() context.Context {
	now := time.Now()
	if p := c.opc.Load(); p != nil && now.Before(p.renewAt) {
		return p.ctx
	}
	ctx, cancel := context.WithTimeout(c.ctx, opTimeout)
	n := &opCtx{ctx: ctx, cancel: cancel, renewAt: now.Add(opTimeout / 2)}
	c.opc.Store(n) // calls may still hold the old one: it ends at its own deadline
	return ctx
}
