package ws

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// acceptGUID is the fixed GUID of RFC 6455 §1.3.
const acceptGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// acceptKey computes Sec-WebSocket-Accept for a Sec-WebSocket-Key.
func acceptKey(key string) string {
	h := sha1.New()
	h.Write([]byte(key))
	h.Write([]byte(acceptGUID))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// headerHasToken reports whether any value of header name holds token in its
// comma-separated list (case-insensitive).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// IsUpgrade reports whether r asks for a WebSocket upgrade (GET with
// `Connection: upgrade` and `Upgrade: websocket`).
func IsUpgrade(r *http.Request) bool {
	return r.Method == http.MethodGet &&
		headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

// validKey reports whether key is base64 for exactly 16 bytes (§4.2.1).
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := base64.StdEncoding.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// Accept completes the server handshake on w (which must support Hijack).
// On failure it has already written an HTTP error response and returns an
// error wrapping ErrBadHandshake: 405 for a method other than GET, 400 for
// missing Connection/Upgrade tokens or a bad Sec-WebSocket-Key, 426 (with
// `Sec-WebSocket-Version: 13`) for another protocol version, 403 when
// cfg.CheckOrigin refuses, 500 when w cannot be hijacked.
//
// Extensions are always declined. If the client offers subprotocols, the
// first one is echoed. Bytes the client sent after the request are kept for
// the first ReadMessage; net/http's bufio buffers are not retained. For the
// smallest idle footprint, hand the Conn to another goroutine and return
// from the handler (the handler's goroutine keeps net/http's per-connection
// state alive while it runs).
func Accept(w http.ResponseWriter, r *http.Request, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	refuse := func(status int, msg string) (*Conn, error) {
		http.Error(w, msg, status)
		return nil, fmt.Errorf("%w: %s", ErrBadHandshake, msg)
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		return refuse(http.StatusMethodNotAllowed, "websocket: method must be GET")
	}
	if !headerHasToken(r.Header, "Connection", "upgrade") {
		return refuse(http.StatusBadRequest, "websocket: missing Connection: upgrade")
	}
	if !headerHasToken(r.Header, "Upgrade", "websocket") {
		return refuse(http.StatusBadRequest, "websocket: missing Upgrade: websocket")
	}
	if r.Header.Get("Sec-WebSocket-Version") != "13" {
		w.Header().Set("Sec-WebSocket-Version", "13")
		return refuse(http.StatusUpgradeRequired, "websocket: unsupported version")
	}
	key := r.Header.Get("Sec-WebSocket-Key")
	if !validKey(key) {
		return refuse(http.StatusBadRequest, "websocket: invalid Sec-WebSocket-Key")
	}
	if cfg.CheckOrigin != nil && !cfg.CheckOrigin(r) {
		return refuse(http.StatusForbidden, "websocket: origin not allowed")
	}
	var proto string
	if v := r.Header.Get("Sec-WebSocket-Protocol"); v != "" {
		proto, _, _ = strings.Cut(v, ",")
		proto = strings.TrimSpace(proto)
	}

	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "websocket: cannot hijack", http.StatusInternalServerError)
		return nil, fmt.Errorf("%w: hijack: %w", ErrBadHandshake, err)
	}
	// net/http may have left its own deadlines on the conn.
	_ = nc.SetDeadline(time.Time{})
	var pending []byte
	if n := brw.Reader.Buffered(); n > 0 {
		b, _ := brw.Reader.Peek(n)
		pending = append([]byte(nil), b...)
	}

	resp := make([]byte, 0, 160+len(proto))
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = append(resp, acceptKey(key)...)
	if proto != "" {
		resp = append(resp, "\r\nSec-WebSocket-Protocol: "...)
		resp = append(resp, proto...)
	}
	resp = append(resp, "\r\n\r\n"...)
	_ = nc.SetWriteDeadline(time.Now().Add(cfg.WriteTimeout))
	if _, err := nc.Write(resp); err != nil {
		_ = nc.Close()
		return nil, fmt.Errorf("ws: write handshake: %w", err)
	}
	return newConn(nc, false, cfg, pending), nil
}

// Dial opens a client connection to rawURL (ws://, wss://, http:// or
// https://; the secure schemes use TLS configured by cfg.TLS). h carries
// extra request headers (may be nil; the handshake's own headers in it are
// ignored). cfg.HandshakeTimeout bounds dialing, TLS and the handshake
// together, in addition to ctx. A non-101 answer, a wrong
// Sec-WebSocket-Accept or a response head (status line and headers) over
// 64 KiB returns an error wrapping ErrBadHandshake.
func Dial(ctx context.Context, rawURL string, h http.Header, cfg Config) (*Conn, error) {
	cfg = cfg.withDefaults()
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("ws: dial: %w", err)
	}
	var secure bool
	switch u.Scheme {
	case "ws", "http":
	case "wss", "https":
		secure = true
	default:
		return nil, fmt.Errorf("ws: dial: unsupported scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("ws: dial: missing host in %q", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		port := "80"
		if secure {
			port = "443"
		}
		addr = net.JoinHostPort(u.Hostname(), port)
	}

	ctx, cancel := context.WithTimeout(ctx, cfg.HandshakeTimeout)
	defer cancel()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ws: dial %s: %w", addr, err)
	}
	// Cancelling ctx interrupts the handshake I/O below.
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	c, err := clientHandshake(ctx, nc, u, secure, h, cfg)
	if !stop() || err != nil {
		_ = nc.Close()
		switch {
		case err == nil || ctx.Err() != nil:
			return nil, fmt.Errorf("ws: dial %s: %w", rawURL, context.Cause(ctx))
		case errors.Is(err, os.ErrDeadlineExceeded):
			// The conn deadline (ctx's deadline) can fire just before ctx's own timer.
			return nil, fmt.Errorf("ws: dial %s: %w: %w", rawURL, context.DeadlineExceeded, err)
		}
		return nil, err
	}
	_ = c.nc.SetDeadline(time.Time{})
	return c, nil
}

// maxResponseHeadBytes bounds the handshake response's status line and
// headers, as a client reads them (a real 101 answer is a few hundred bytes;
// net/http's client allows 10 MB, for any response).
const maxResponseHeadBytes = 64 << 10

// clientHandshake runs TLS (when secure) and the opening handshake on nc.
func clientHandshake(ctx context.Context, nc net.Conn, u *url.URL, secure bool, h http.Header, cfg Config) (*Conn, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	if secure {
		tcfg := &tls.Config{}
		if cfg.TLS != nil {
			tcfg = cfg.TLS.Clone()
		}
		if tcfg.ServerName == "" {
			tcfg.ServerName = u.Hostname()
		}
		tc := tls.Client(nc, tcfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return nil, fmt.Errorf("ws: tls handshake: %w", err)
		}
		nc = tc
	}
	var kb [16]byte
	_, _ = rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])

	var b strings.Builder
	b.WriteString("GET ")
	b.WriteString(u.RequestURI())
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(u.Host)
	b.WriteString("\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ")
	b.WriteString(key)
	b.WriteString("\r\n")
	for k, vs := range h {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Upgrade", "Connection", "Sec-Websocket-Version", "Sec-Websocket-Key", "Sec-Websocket-Extensions":
			continue
		}
		for _, v := range vs {
			if strings.ContainsAny(k, "\r\n:") || strings.ContainsAny(v, "\r\n") {
				return nil, fmt.Errorf("ws: dial: invalid header %q", k)
			}
			b.WriteString(k)
			b.WriteString(": ")
			b.WriteString(v)
			b.WriteString("\r\n")
		}
	}
	b.WriteString("\r\n")
	if _, err := nc.Write([]byte(b.String())); err != nil {
		return nil, fmt.Errorf("ws: write handshake: %w", err)
	}

	// The response head is bounded: http.ReadResponse alone reads a header
	// line of any length (a server streaming one made Dial allocate
	// gigabytes before its timeout).
	lr := &io.LimitedReader{R: nc, N: maxResponseHeadBytes}
	br := bufio.NewReaderSize(lr, 1024)
	req := &http.Request{Method: http.MethodGet, URL: u}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if lr.N == 0 {
			return nil, fmt.Errorf("%w: response head over %d bytes", ErrBadHandshake, maxResponseHeadBytes)
		}
		return nil, fmt.Errorf("ws: read handshake: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, fmt.Errorf("%w: status %s", ErrBadHandshake, resp.Status)
	}
	switch {
	case !headerHasToken(resp.Header, "Upgrade", "websocket"):
		return nil, fmt.Errorf("%w: missing Upgrade: websocket", ErrBadHandshake)
	case !headerHasToken(resp.Header, "Connection", "upgrade"):
		return nil, fmt.Errorf("%w: missing Connection: upgrade", ErrBadHandshake)
	case resp.Header.Get("Sec-WebSocket-Accept") != acceptKey(key):
		return nil, fmt.Errorf("%w: wrong Sec-WebSocket-Accept", ErrBadHandshake)
	case resp.Header.Get("Sec-WebSocket-Extensions") != "":
		return nil, fmt.Errorf("%w: server chose an extension we did not offer", ErrBadHandshake)
	}
	var pending []byte
	if n := br.Buffered(); n > 0 {
		p, _ := br.Peek(n)
		pending = append([]byte(nil), p...)
	}
	return newConn(nc, true, cfg, pending), nil
}
