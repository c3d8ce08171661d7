package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/switchboard-lb/switchboard/internal/ws"
)

// wsConn is the little the benchmarks need from a WebSocket connection.
type wsConn interface {
	Read() (op int, p []byte, err error)
	Write(op int, p []byte) error
	Close() error
}

// wsImpl selects the WebSocket implementation: "internal" (our
// internal/ws), "mini" (the tiny fallback below, used only while
// internal/ws is a stub), or "auto" (internal when it works).
var wsImpl = "auto"

// internalWSReady reports whether internal/ws is implemented (the skeleton
// panics with "todo").
func internalWSReady() (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	r, _ := http.NewRequest("GET", "/", nil)
	ws.IsUpgrade(r)
	return true
}

func useInternalWS() bool {
	switch wsImpl {
	case "internal":
		return true
	case "mini":
		return false
	}
	return internalWSReady()
}

// wsAccept upgrades a server request.
func wsAccept(w http.ResponseWriter, r *http.Request) (wsConn, error) {
	if useInternalWS() {
		c, err := ws.Accept(w, r, ws.Config{MaxMessageBytes: 1 << 20})
		if err != nil {
			return nil, err
		}
		return internalConn{c}, nil
	}
	return miniAccept(w, r)
}

// wsDial opens a client connection to rawURL (http:// or ws://).
func wsDial(ctx context.Context, rawURL string) (wsConn, error) {
	if useInternalWS() {
		c, err := ws.Dial(ctx, rawURL, nil, ws.Config{MaxMessageBytes: 1 << 20})
		if err != nil {
			return nil, err
		}
		return internalConn{c}, nil
	}
	return miniDial(ctx, rawURL)
}

type internalConn struct{ c *ws.Conn }

func (c internalConn) Read() (int, []byte, error) { return c.c.ReadMessage() }
func (c internalConn) Write(op int, p []byte) error {
	return c.c.WriteMessage(op, p)
}
func (c internalConn) Close() error { return c.c.Close() }

// ---- minimal fallback: unfragmented frames, no extensions ----

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func wsAcceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

type miniConn struct {
	nc     net.Conn
	br     *bufio.Reader
	client bool // clients mask their frames
	wmu    sync.Mutex
}

func miniAccept(w http.ResponseWriter, r *http.Request) (wsConn, error) {
	key := r.Header.Get("Sec-WebSocket-Key")
	if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") || key == "" {
		http.Error(w, "not a websocket handshake", http.StatusBadRequest)
		return nil, errors.New("not a websocket handshake")
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		return nil, errors.New("cannot hijack")
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return nil, err
	}
	resp := "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " +
		wsAcceptKey(key) + "\r\n\r\n"
	if _, err := nc.Write([]byte(resp)); err != nil {
		nc.Close()
		return nil, err
	}
	return &miniConn{nc: nc, br: brw.Reader}, nil
}

func miniDial(ctx context.Context, rawURL string) (wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		nc.SetDeadline(dl)
	}
	var kb [16]byte
	rand.Read(kb[:])
	key := base64.StdEncoding.EncodeToString(kb[:])
	req := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + u.Host +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " + key + "\r\n\r\n"
	if _, err := nc.Write([]byte(req)); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(nc, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		nc.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-WebSocket-Accept") != wsAcceptKey(key) {
		nc.Close()
		return nil, fmt.Errorf("websocket handshake: status %d", resp.StatusCode)
	}
	nc.SetDeadline(time.Time{})
	return &miniConn{nc: nc, br: br, client: true}, nil
}

func (c *miniConn) Read() (int, []byte, error) {
	for {
		var h [2]byte
		if _, err := io.ReadFull(c.br, h[:]); err != nil {
			return 0, nil, err
		}
		op := int(h[0] & 0x0f)
		masked := h[1]&0x80 != 0
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(c.br, b[:]); err != nil {
				return 0, nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		if n > 1<<20 {
			return 0, nil, errors.New("frame too large")
		}
		var mask [4]byte
		if masked {
			if _, err := io.ReadFull(c.br, mask[:]); err != nil {
				return 0, nil, err
			}
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(c.br, p); err != nil {
			return 0, nil, err
		}
		if masked {
			for i := range p {
				p[i] ^= mask[i&3]
			}
		}
		switch op {
		case 0x8:
			c.Write(0x8, p)
			return 0, nil, io.EOF
		case 0x9:
			c.Write(0xA, p)
			continue
		case 0xA:
			continue
		}
		return op, p, nil
	}
}

func (c *miniConn) Write(op int, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	buf := make([]byte, 0, 14+len(p))
	buf = append(buf, 0x80|byte(op))
	var mbit byte
	if c.client {
		mbit = 0x80
	}
	switch {
	case len(p) < 126:
		buf = append(buf, mbit|byte(len(p)))
	case len(p) < 1<<16:
		buf = append(buf, mbit|126, byte(len(p)>>8), byte(len(p)))
	default:
		buf = append(buf, mbit|127)
		buf = binary.BigEndian.AppendUint64(buf, uint64(len(p)))
	}
	if c.client {
		var mask [4]byte
		rand.Read(mask[:])
		buf = append(buf, mask[:]...)
		off := len(buf)
		buf = append(buf, p...)
		for i := range p {
			buf[off+i] ^= mask[i&3]
		}
	} else {
		buf = append(buf, p...)
	}
	_, err := c.nc.Write(buf)
	return err
}

func (c *miniConn) Close() error { return c.nc.Close() }
