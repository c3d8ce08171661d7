package msgroute

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/ratelimit"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
)

// Config tunes the message route. Zero fields take the defaults given.
type Config struct {
	// MaxBodyBytes bounds a message body (default 64 KiB); larger → 413.
	MaxBodyBytes int64
	// Token, if set, must be sent as "Authorization: Bearer <token>".
	Token string
	// RatePerSecond and Burst limit requests per client IP (defaults 100
	// and 200; a negative rate means unlimited).
	RatePerSecond float64
	Burst         int
	// TrustedProxies are peers whose X-Forwarded-For names the client.
	TrustedProxies []netip.Prefix
	// FanoutTimeout bounds each backend's answer to a fanned-out message
	// (default 10s).
	FanoutTimeout time.Duration
	// MaxReplyBytes bounds each backend's reply body kept in a fan-out
	// summary (default 4 KiB; longer replies are cut and marked).
	MaxReplyBytes int
	// Recipient says where a message names its recipient (default: query
	// parameter `to`, then header X-Switchboard-To).
	Recipient UserKey
}

func (c *Config) applyDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = 64 << 10
	}
	if c.RatePerSecond == 0 {
		c.RatePerSecond = 100
	}
	if c.Burst <= 0 {
		c.Burst = 200
	}
	if c.FanoutTimeout <= 0 {
		c.FanoutTimeout = 10 * time.Second
	}
	if c.MaxReplyBytes <= 0 {
		c.MaxReplyBytes = 4 << 10
	}
	if !c.Recipient.Enabled() {
		c.Recipient = UserKey{Query: "to", Header: HeaderTo}
	}
}

// Forwarder sends a request to one given backend (proxy.Proxy).
type Forwarder interface {
	ServeBackend(w http.ResponseWriter, r *http.Request, b *backend.Backend)
}

// Route is the message route's handler. Safe for concurrent use.
type Route struct {
	cfg Config
	reg *backend.Registry
	rt  *router.Router
	fw  Forwarder
	lim *ratelimit.Limiter
	log *slog.Logger
}

// New returns the message route. It starts no goroutines.
func New(cfg Config, reg *backend.Registry, rt *router.Router, fw Forwarder, logger *slog.Logger) *Route {
	cfg.applyDefaults()
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Route{cfg: cfg, reg: reg, rt: rt, fw: fw,
		lim: ratelimit.New(cfg.RatePerSecond, cfg.Burst, nil),
		log: logger.With("component", "msgroute")}
}

// HeaderTo is the default header naming a message's recipient.
const HeaderTo = "X-Switchboard-To"

// ServeHTTP handles one message:
//   - a known user (`?to=name` or X-Switchboard-To, see Config.Recipient):
//     the request is proxied
//     to the backend holding the user, and its answer returned;
//   - no recipient: the request is sent to every backend, answered with a
//     JSON summary of each backend's reply;
//   - an orphaned user (their backend died, grace period running): the
//     body is kept in the user's mailbox, 202;
//   - an unknown user: 404.
//
// Errors are JSON {ok:false, code, message}, the channel's convention.
func (rt *Route) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeJSON(w, http.StatusMethodNotAllowed, failure("METHOD_NOT_ALLOWED", "the message route takes POST"))
		return
	}
	if rt.cfg.Token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(rt.cfg.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="switchboard"`)
			writeJSON(w, http.StatusUnauthorized, failure("UNAUTHORIZED", "missing or wrong bearer token"))
			return
		}
	}
	if !rt.lim.Allow(ratelimit.ClientIP(r, rt.cfg.TrustedProxies)) {
		w.Header().Set("Retry-After", "1")
		writeJSON(w, http.StatusTooManyRequests, failure("RATE_LIMITED", "too many messages from this client"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, rt.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeJSON(w, http.StatusRequestEntityTooLarge, failure("TOO_LARGE",
				"message body over "+strconv.FormatInt(rt.cfg.MaxBodyBytes, 10)+" bytes"))
			return
		}
		writeJSON(w, http.StatusBadRequest, failure("BAD_REQUEST", "reading the body: "+err.Error()))
		return
	}
	to := rt.cfg.Recipient.Name(r)
	if to == "" {
		rt.fanout(w, r, body)
		return
	}
	rt.direct(w, r, to, body)
}

func (rt *Route) direct(w http.ResponseWriter, r *http.Request, name string, body []byte) {
	if err := router.ValidateName(name, rt.rt.Config().MaxNameBytes); err != nil {
		writeJSON(w, http.StatusBadRequest, failure(engine.Code(err), err.Error()))
		return
	}
	exists, _, h, err := rt.rt.Lookup(r.Context(), name)
	switch {
	case err != nil && !errors.Is(err, engine.ErrNotFound):
		writeJSON(w, http.StatusServiceUnavailable, failure(engine.Code(err), err.Error()))
		return
	case !exists:
		writeJSON(w, http.StatusNotFound, failure("UNKNOWN_NAME", "nobody holds "+strconv.Quote(name)))
		return
	}
	if !h.Orphaned {
		if b := rt.reg.Get(h.Backend); b != nil {
			rt.fw.ServeBackend(w, withBody(r, body), b)
			return
		}
	}
	// Orphaned (or its backend just left): keep it for the user, naming its
	// sender when the client says who that is.
	msg := router.Message{To: []string{name}, From: r.Header.Get("X-Switchboard-From")}
	if msg.From != "" {
		if err := router.ValidateName(msg.From, rt.rt.Config().MaxNameBytes); err != nil {
			writeJSON(w, http.StatusBadRequest, failure(engine.Code(err), err.Error()))
			return
		}
	}
	if json.Valid(body) && len(bytes.TrimSpace(body)) > 0 {
		msg.Data = body
	} else {
		msg.Data = sio.Placeholder(0)
		msg.Attachments = [][]byte{body}
	}
	res, err := rt.rt.Route(r.Context(), nil, msg)
	if err != nil {
		writeJSON(w, http.StatusServiceUnavailable, failure(engine.Code(err), err.Error()))
		return
	}
	status := http.StatusAccepted
	if len(res.Held) == 0 && len(res.Delivered) == 0 {
		status = http.StatusServiceUnavailable // dropped: larger than a mailbox, or the holder vanished
	}
	writeJSON(w, status, map[string]any{"ok": status == http.StatusAccepted, "id": res.ID,
		"delivered": nonNil(res.Delivered), "held": nonNil(res.Held), "dropped": nonNil(res.Dropped)})
}

// reply is one backend's answer in a fan-out summary.
type reply struct {
	ID        string `json:"id"`
	Address   string `json:"address"`
	Status    int    `json:"status"`
	Body      string `json:"body"`
	Truncated bool   `json:"truncated,omitempty"`
}

// fanout sends the message to every backend in the pool, at once, and
// answers with each backend's status and (bounded) reply.
func (rt *Route) fanout(w http.ResponseWriter, r *http.Request, body []byte) {
	pool := rt.reg.Snapshot()
	out := make([]reply, len(pool))
	var wg sync.WaitGroup
	for i, b := range pool {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(r.Context(), rt.cfg.FanoutTimeout)
			defer cancel()
			rec := &recorder{h: http.Header{}, max: rt.cfg.MaxReplyBytes}
			status := rt.forward(rec, withBody(r.WithContext(ctx), body), b)
			out[i] = reply{ID: b.ID, Address: b.URL.String(), Status: status, Body: rec.buf.String(), Truncated: rec.cut}
		})
	}
	wg.Wait()
	ok := len(pool) > 0
	for _, o := range out {
		if o.Status < 200 || o.Status > 299 {
			ok = false
		}
	}
	status := http.StatusOK
	if len(pool) == 0 {
		status = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, map[string]any{"ok": ok, "backends": out})
}

// forward sends one fanned-out copy to b and returns the status to report.
// It runs on a goroutine of its own, where no net/http server recovers a
// panic: the proxy aborts an exchange whose client is gone (here, whose
// FanoutTimeout passed) with panic(http.ErrAbortHandler), which must not
// take the process down. An aborted exchange reports 504 when the timeout
// passed, else 502, even if a status line had come.
func (rt *Route) forward(rec *recorder, r *http.Request, b *backend.Backend) (status int) {
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				rt.log.Error("fan-out to a backend panicked", "backend_id", b.ID, "panic", p)
			}
			status = http.StatusBadGateway
			if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
				status = http.StatusGatewayTimeout
			}
		}
	}()
	rt.fw.ServeBackend(rec, r, b)
	return rec.status()
}

// withBody returns a copy of r whose body is b (readable once, with its
// length known so it is sent with Content-Length).
func withBody(r *http.Request, b []byte) *http.Request {
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(b))
	r2.ContentLength = int64(len(b))
	r2.Header.Del("Transfer-Encoding")
	r2.TransferEncoding = nil
	r2.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	return r2
}

// recorder captures one backend's reply, keeping at most max body bytes.
type recorder struct {
	h    http.Header
	code int
	buf  bytes.Buffer
	max  int
	cut  bool
}

func (rc *recorder) Header() http.Header { return rc.h }
func (rc *recorder) WriteHeader(code int) {
	if rc.code == 0 {
		rc.code = code
	}
}
func (rc *recorder) Write(p []byte) (int, error) {
	if rc.code == 0 {
		rc.code = http.StatusOK
	}
	if room := rc.max - rc.buf.Len(); room < len(p) {
		rc.buf.Write(p[:max(room, 0)])
		rc.cut = true
		return len(p), nil
	}
	return rc.buf.Write(p)
}
func (rc *recorder) Flush() {}
func (rc *recorder) status() int {
	if rc.code == 0 {
		return http.StatusBadGateway
	}
	return rc.code
}

func failure(code, msg string) map[string]any {
	return map[string]any{"ok": false, "code": code, "message": msg}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
