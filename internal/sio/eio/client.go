package eio

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// DialConfig configures a client session.
type DialConfig struct {
	Config
	// Path is the engine path (default "/socket.io/").
	Path string
	// Query and Header are added to every request.
	Query  url.Values
	Header http.Header
	// Polling starts with HTTP long-polling and upgrades; default is
	// WebSocket only.
	Polling bool
	// HTTPClient carries the polling requests (default http.DefaultClient,
	// or, when TLS is set, a client of the session's own using it).
	HTTPClient *http.Client
	// TLS configures TLS for https:// URLs (nil: crypto/tls defaults).
	TLS *tls.Config

	ownHTTP *http.Transport // HTTPClient's transport when Dial made it (closed with the session)
}

// ErrHandshake is returned by Dial when the server's answer is not an
// Engine.IO v4 handshake.
var ErrHandshake = errors.New("eio: bad handshake")

// clientState is the client-only part of a Conn.
type clientState struct {
	ctx          context.Context // cancelled when the session ends; carries polling requests
	cancel       context.CancelFunc
	http         *http.Client
	ownHTTP      *http.Transport // closed when the session ends (nil: not ours)
	pollURL      string          // with sid
	header       http.Header
	pingInterval time.Duration
	pingTimeout  time.Duration
	maxPayload   int64  // server's
	pending      []byte // the handshake payload after the open packet, delivered first
}

// handshake is the open packet's JSON.
type handshake struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// Dial opens a client session to baseURL (http(s)://host:port). The client
// answers pings and closes the session (ReasonPingTimeout) when none arrives
// within pingInterval+pingTimeout. ctx bounds the handshake (and the
// upgrade probe) only; the session lives until Close or the peer ends it.
// h receives the session's messages and its close, as on the server side.
func Dial(ctx context.Context, baseURL string, cfg DialConfig, h Handler) (*Conn, error) {
	cfg.Config = cfg.Config.withDefaults()
	if cfg.Path == "" {
		cfg.Path = "/socket.io/"
	}
	base, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("eio: dial %s: %w", baseURL, err)
	}
	polling := cfg.Polling && cfg.allows(TransportPolling)
	switch {
	case cfg.HTTPClient != nil:
	case polling && cfg.TLS != nil:
		// A transport of the session's own, whose connections close with
		// it (or with a failed dial).
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.TLSClientConfig = cfg.TLS.Clone()
		cfg.HTTPClient, cfg.ownHTTP = &http.Client{Transport: t}, t
	default:
		cfg.HTTPClient = http.DefaultClient
	}
	if polling {
		c, err := dialPolling(ctx, base, &cfg, h)
		if err != nil && cfg.ownHTTP != nil {
			cfg.ownHTTP.CloseIdleConnections()
		}
		return c, err
	}
	wsc, hs, err := dialWebSocket(ctx, base, &cfg, "")
	if err != nil {
		return nil, err
	}
	c := newClientConn(ctx, base, &cfg, hs, h)
	c.transport = transWebSocket
	c.ws = wsc
	c.start()
	return c, nil
}

// engineURL returns the engine URL for transport (and sid, if not empty).
func engineURL(base *url.URL, cfg *DialConfig, transport, sid string) string {
	u := *base
	u.Path = strings.TrimSuffix(u.Path, "/") + cfg.Path
	q := url.Values{}
	for k, v := range cfg.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	q.Set("transport", transport)
	if sid != "" {
		q.Set("sid", sid)
	}
	u.RawQuery = q.Encode()
	return u.String()
}

func (cfg *DialConfig) wsConfig() ws.Config {
	return ws.Config{MaxMessageBytes: cfg.MaxPayloadBytes, WriteTimeout: cfg.WriteTimeout, HandshakeTimeout: cfg.UpgradeTimeout, TLS: cfg.TLS, ReadCoalesce: cfg.ReadCoalesce}
}

// dialWebSocket opens the WebSocket transport directly and reads the open
// packet.
func dialWebSocket(ctx context.Context, base *url.URL, cfg *DialConfig, sid string) (*ws.Conn, *handshake, error) {
	u := engineURL(base, cfg, TransportWebSocket, sid)
	wsc, err := ws.Dial(ctx, u, cfg.Header, cfg.wsConfig())
	if err != nil {
		return nil, nil, fmt.Errorf("eio: dial %s: %w", u, err)
	}
	stop := watchCtx(ctx, wsc, cfg.UpgradeTimeout)
	op, p, err := wsc.ReadMessage()
	stop()
	if err != nil {
		_ = wsc.Close()
		return nil, nil, fmt.Errorf("eio: read handshake: %w", err)
	}
	hs, err := parseOpen(p, op == ws.OpBinary)
	if err != nil {
		_ = wsc.Close()
		return nil, nil, err
	}
	return wsc, hs, nil
}

// watchCtx bounds the reads that follow by d and by ctx; stop lifts both.
func watchCtx(ctx context.Context, wsc *ws.Conn, d time.Duration) (stop func()) {
	dl := time.Now().Add(d)
	if t, ok := ctx.Deadline(); ok && t.Before(dl) {
		dl = t
	}
	_ = wsc.SetReadDeadline(dl)
	unwatch := context.AfterFunc(ctx, func() { _ = wsc.SetReadDeadline(time.Unix(1, 0)) })
	return func() {
		unwatch()
		_ = wsc.SetReadDeadline(time.Time{})
	}
}

func parseOpen(p []byte, binary bool) (*handshake, error) {
	pk, err := codec.DecodeEIOPacket(p, binary)
	if err != nil || pk.Type != codec.EIOOpen {
		return nil, fmt.Errorf("%w: first packet is not open", ErrHandshake)
	}
	var hs handshake
	if err := json.Unmarshal(pk.Data, &hs); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	const day = 24 * 60 * 60 * 1000 // ms; larger values would overflow once summed as Durations
	if hs.SID == "" || hs.PingInterval <= 0 || hs.PingTimeout <= 0 || hs.PingInterval > day || hs.PingTimeout > day {
		return nil, fmt.Errorf("%w: incomplete or out-of-range open packet", ErrHandshake)
	}
	return &hs, nil
}

func newClientConn(ctx context.Context, base *url.URL, cfg *DialConfig, hs *handshake, h Handler) *Conn {
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	c := &Conn{
		id:         hs.SID,
		cfg:        &cfg.Config,
		grp:        new(sync.WaitGroup),
		h:          h,
		remoteAddr: base.Host,
		done:       make(chan struct{}),
		cl: &clientState{
			ctx:          cctx,
			cancel:       cancel,
			http:         cfg.HTTPClient,
			ownHTTP:      cfg.ownHTTP,
			pollURL:      engineURL(base, cfg, TransportPolling, hs.SID),
			header:       cfg.Header,
			pingInterval: time.Duration(hs.PingInterval) * time.Millisecond,
			pingTimeout:  time.Duration(hs.PingTimeout) * time.Millisecond,
			maxPayload:   hs.MaxPayload,
		},
	}
	return c
}

// start arms the ping watchdog and starts the reader of the current
// transport.
func (c *Conn) start() {
	c.mu.Lock()
	c.armLocked(c.cl.pingInterval + c.cl.pingTimeout)
	c.refs++
	c.grp.Add(1)
	wsc := c.ws
	c.mu.Unlock()
	if wsc != nil {
		go func() {
			if c.deliverPending() {
				c.wsReadLoop(wsc)
				return
			}
			c.grp.Done()
			c.leave()
		}()
		return
	}
	go c.pollLoop()
}

// deliverPending hands over packets that came with the handshake; false
// when the session ended (an undecodable payload closes it).
func (c *Conn) deliverPending() bool {
	ps := c.cl.pending
	c.cl.pending = nil
	if ps == nil {
		return true
	}
	if err := codec.ScanEIOPayload(ps, c.deliver); err != nil {
		c.closeWith(ReasonParseError, false)
	}
	return !c.closed.Load()
}

// dialPolling performs the handshake over long-polling, then probes and
// upgrades to WebSocket when the server offers it and cfg allows it. A
// failed probe leaves the session on polling.
func dialPolling(ctx context.Context, base *url.URL, cfg *DialConfig, h Handler) (*Conn, error) {
	u := engineURL(base, cfg, TransportPolling, "")
	body, err := pollOnce(ctx, cfg.HTTPClient, u, cfg.Header, cfg.MaxPayloadBytes)
	if err != nil {
		return nil, fmt.Errorf("eio: handshake %s: %w", u, err)
	}
	// The open packet comes first; what follows it is decoded and
	// delivered once the session runs (deliverPending).
	open, rest, more := bytes.Cut(body, []byte{codec.EIORecordSeparator})
	if more && len(rest) == 0 {
		return nil, fmt.Errorf("%w: bad handshake payload", ErrHandshake)
	}
	hs, err := parseOpen(open, false)
	if err != nil {
		return nil, err
	}
	c := newClientConn(ctx, base, cfg, hs, h)
	c.cl.pending = rest
	if slices.Contains(hs.Upgrades, TransportWebSocket) && cfg.allows(TransportWebSocket) {
		if wsc, err := probe(ctx, base, cfg, hs.SID); err == nil {
			c.transport = transWebSocket
			c.ws = wsc
		}
	}
	c.start()
	return c, nil
}

// probe runs the client side of the upgrade on a new WebSocket: "2probe",
// expect "3probe", then "5". No poll is pending meanwhile, so the server
// holds its output for the WebSocket.
func probe(ctx context.Context, base *url.URL, cfg *DialConfig, sid string) (*ws.Conn, error) {
	u := engineURL(base, cfg, TransportWebSocket, sid)
	wsc, err := ws.Dial(ctx, u, cfg.Header, cfg.wsConfig())
	if err != nil {
		return nil, err
	}
	if err := wsc.WriteMessage(ws.OpText, []byte("2probe")); err != nil {
		_ = wsc.Close()
		return nil, err
	}
	stop := watchCtx(ctx, wsc, cfg.UpgradeTimeout)
	op, p, err := wsc.ReadMessage()
	stop()
	if err == nil && (op != ws.OpText || string(p) != "3probe") {
		err = fmt.Errorf("%w: unexpected probe answer %q", ErrHandshake, p)
	}
	if err == nil {
		err = wsc.WriteMessage(ws.OpText, []byte{'0' + byte(codec.EIOUpgrade)})
	}
	if err != nil {
		_ = wsc.Close()
		return nil, err
	}
	return wsc, nil
}

// pollOnce GETs u and returns the body (at most limit bytes).
func pollOnce(ctx context.Context, hc *http.Client, u string, h http.Header, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range h {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	if int64(len(body)) > limit {
		return nil, ws.ErrTooBig
	}
	return body, nil
}

// pollLoop is the polling client's reader: one GET at a time, packets
// delivered in order.
func (c *Conn) pollLoop() {
	defer c.grp.Done()
	defer c.leave()
	if !c.deliverPending() {
		return
	}
	// A GET response may hold many queued messages.
	limit := c.cfg.MaxPayloadBytes * 16
	for !c.closed.Load() {
		body, err := pollOnce(c.cl.ctx, c.cl.http, c.cl.pollURL, c.cl.header, limit)
		if err != nil {
			if errors.Is(err, ws.ErrTooBig) {
				c.closeWith(ReasonTooLarge, false)
			} else {
				c.closeWith(ReasonTransportError, false)
			}
			return
		}
		// Delivered as decoded: no list of packets (see serveData).
		if err := codec.ScanEIOPayload(body, c.deliver); err != nil {
			c.closeWith(ReasonParseError, false)
			return
		}
	}
}

func (cl *clientState) kickLocked(c *Conn) {
	if !c.writing {
		c.writing = true
		c.refs++
		c.grp.Add(1)
		go c.postLoop()
	}
}

// closeLocked ends a polling client session: graceful closes flush the
// queue and a close packet first (in postLoop), which then cancels the
// pending GET.
func (cl *clientState) closeLocked(c *Conn) {
	if !c.graceful {
		c.queue = nil
		cl.cancel()
		return
	}
	cl.kickLocked(c)
}

// postLoop sends the queue in POSTs, one at a time, and exits when it is
// empty. After a graceful close it sends a close packet and cancels the
// session's requests.
func (c *Conn) postLoop() {
	defer c.grp.Done()
	defer c.leave()
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			closing, graceful := c.state != stateOpen, c.graceful
			c.writing = false
			c.mu.Unlock()
			if closing {
				if graceful {
					_ = c.post([]codec.EIOPacket{{Type: codec.EIOClose}})
				}
				c.cl.cancel()
			}
			return
		}
		batch := c.takeQueueLocked()
		c.mu.Unlock()
		err := c.post(batch)
		clear(batch)
		if err != nil {
			c.closeWith(ReasonTransportError, false)
			c.mu.Lock()
			c.writing = false
			c.mu.Unlock()
			c.cl.cancel()
			return
		}
	}
}

// post sends ps in as few POSTs as the server's maxPayload allows.
func (c *Conn) post(ps []codec.EIOPacket) error {
	bp := getBuf()
	defer putBuf(bp)
	for len(ps) > 0 {
		*bp = (*bp)[:0]
		n := 0
		for n < len(ps) {
			before := len(*bp)
			*bp = codec.AppendEIOPayloadPacket(*bp, 0, ps[n])
			if n > 0 && c.cl.maxPayload > 0 && int64(len(*bp)) > c.cl.maxPayload {
				*bp = (*bp)[:before]
				break
			}
			n++
		}
		ps = ps[n:]
		if err := c.postBody(*bp); err != nil {
			return err
		}
	}
	return nil
}

func (c *Conn) postBody(body []byte) error {
	ctx, cancel := context.WithTimeout(c.cl.ctx, c.cfg.WriteTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cl.pollURL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	for k, v := range c.cl.header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := c.cl.http.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("eio: post: status %d", resp.StatusCode)
	}
	return nil
}
