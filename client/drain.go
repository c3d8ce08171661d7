package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// DrainStatus is the hub's count of what is still proxied to this backend.
type DrainStatus struct {
	InFlight int64 `json:"in_flight"` // HTTP requests being forwarded
	Tunnels  int64 `json:"tunnels"`   // open upgraded connections (WebSocket)
}

// Idle reports whether nothing is proxied to the backend any more.
func (s DrainStatus) Idle() bool { return s.InFlight == 0 && s.Tunnels == 0 }

// Drain asks the hub to stop sending this backend new requests, Engine.IO
// sessions and users (open connections and held names go on), then polls
// until nothing is proxied to it any more (no request in flight, no open
// tunnel) or ctx ends; it returns the last counts. Draining is sticky: a
// reconnect re-sends it. The polling interval starts at 10ms and doubles up
// to 250ms. Failures the hub may recover from (a lost connection,
// ErrInternal …) are retried; a refusal is not: a hub that does not know
// `drain` (ErrUnknownEvent, ErrBadRequest) fails Drain at once.
func (c *Client) Drain(ctx context.Context) (DrainStatus, error) {
	c.mu.Lock()
	c.draining = true
	c.mu.Unlock()
	const first, most = 10 * time.Millisecond, 250 * time.Millisecond
	wait := first
	var last DrainStatus
	for {
		st, err := c.drainOnce(ctx)
		var he *HubError
		if err == nil {
			last = st
			if st.Idle() {
				return st, nil
			}
		} else if ctx.Err() != nil || c.Err() != nil || errors.As(err, &he) && !transient(he.Code) {
			return last, err
		} else {
			c.log.Debug("drain poll failed", "err", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return last, fmt.Errorf("client: drain: %w", ctx.Err())
		case <-c.done:
			t.Stop()
			return last, c.Err()
		}
		wait = min(2*wait, most)
	}
}

func (c *Client) drainOnce(ctx context.Context) (DrainStatus, error) {
	cn, err := c.current(ctx)
	if err != nil {
		return DrainStatus{}, err
	}
	raw, err := c.emit(ctx, cn, "drain", sio.Message{})
	if err != nil {
		return DrainStatus{}, err
	}
	var r struct {
		failure
		DrainStatus
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return DrainStatus{}, fmt.Errorf("client: drain: bad reply: %w", err)
	}
	if !r.OK {
		return DrainStatus{}, r.failure.err("drain")
	}
	return r.DrainStatus, nil
}

// ListenerURL returns "http://ip:port" for ln's address, the address to
// announce for a server listening on it (an unspecified IP is replaced by
// the hub with the channel connection's peer IP).
func ListenerURL(ln net.Listener) string {
	return "http://" + ln.Addr().String()
}

// Serve runs srv on ln and keeps it in Switchboard's pool until ctx ends:
// it dials the hubs (announcing WithAddress, or ListenerURL(ln) when not
// given) while srv already serves, then waits. When ctx ends it drains
// (bounded by WithDrainTimeout, default 30s), then shuts srv down with
// http.Server.Shutdown (bounded by WithShutdownTimeout, default 10s,
// counted from the end of the drain; past it srv is closed) and closes the
// client. It returns nil after a clean stop, or the first error: srv
// failing, or the hub refusing the backend for good.
// Use Client.Serve instead to reach the client (Join, Send …).
func Serve(ctx context.Context, srv *http.Server, ln net.Listener, hubURLs []string, opts ...Option) error {
	c, err := newClient(hubURLs, opts)
	if err != nil {
		return err
	}
	if c.cfg.address == "" {
		c.cfg.address = ListenerURL(ln)
	}
	c.start()
	return c.serve(ctx, srv, ln, false)
}

// Serve runs srv on ln (whose address c announced) until ctx ends, then
// drains (bounded by WithDrainTimeout), shuts srv down (bounded by
// WithShutdownTimeout, from the end of the drain) and closes c. It
// returns nil after a clean stop, or the first error: srv failing, or the
// client stopping for good (ErrReplaced …) while serving.
func (c *Client) Serve(ctx context.Context, srv *http.Server, ln net.Listener) error {
	return c.serve(ctx, srv, ln, true)
}

func (c *Client) serve(ctx context.Context, srv *http.Server, ln net.Listener, registered bool) error {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-served:
		served <- err
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
	case <-c.done:
		if e := c.Err(); !errors.Is(e, ErrClosed) {
			err = e
		}
	}
	if err == nil && (registered || c.Connected()) {
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.drainTimeout)
		st, derr := c.Drain(dctx)
		cancel()
		if derr != nil {
			c.log.Warn("drain incomplete", "err", derr, "in_flight", st.InFlight, "tunnels", st.Tunnels)
		}
	}
	// Shutdown has a bound of its own: a drain that ran out of time
	// leaves requests in flight, which it lets finish.
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.shutdownTimeout)
	defer cancel()
	if serr := srv.Shutdown(sctx); serr != nil {
		_ = srv.Close()
		err = errors.Join(err, fmt.Errorf("client: shutdown: %w", serr))
	}
	if e := <-served; err == nil && !errors.Is(e, http.ErrServerClosed) {
		err = e
	}
	_ = c.Close()
	return err
}
