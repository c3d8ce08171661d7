package eio

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"
)

// servePoll answers a long-polling GET: at once with whatever is queued, or
// when something is. One GET may be pending per session; an overlapping one
// closes the session, as engine.io does. A GET whose client goes away
// closes the session too (engine.io: "poll connection closed prematurely").
func (s *Server) servePoll(w http.ResponseWriter, r *http.Request, c *Conn) {
	c.mu.Lock()
	if c.getWait {
		c.mu.Unlock()
		c.closeWith(ReasonTransportError, false)
		writeError(w, codeBadRequest)
		return
	}
	for {
		var ps []codec.EIOPacket
		switch {
		case c.state != stateOpen:
			if c.transport != transPolling {
				c.mu.Unlock()
				writeError(w, codeBadRequest)
				return
			}
			ps = append(c.takeQueueLocked(), codec.EIOPacket{Type: codec.EIOClose})
			c.stopTimerLocked()
			c.mu.Unlock()
			s.remove(c)
			writePayload(w, c, ps)
			return
		case c.transport != transPolling || c.upgrade == upProbed:
			// Upgrading (or just upgraded): release the client's poll so
			// it can send "5"; held packets go out on the WebSocket.
			c.mu.Unlock()
			writePayload(w, c, []codec.EIOPacket{{Type: codec.EIONoop}})
			return
		case len(c.queue) > 0:
			ps = c.takeQueueLocked()
			c.mu.Unlock()
			writePayload(w, c, ps)
			c.recycle(ps)
			return
		}
		wake := make(chan struct{})
		c.pollWake = wake
		c.getWait = true
		c.mu.Unlock()
		select {
		case <-wake:
		case <-r.Context().Done():
			c.mu.Lock()
			c.getWait = false
			if c.pollWake == wake {
				c.pollWake = nil
			}
			c.mu.Unlock()
			c.closeWith(ReasonTransportError, false)
			return
		}
		c.mu.Lock()
		c.getWait = false
	}
}

// writePayload writes ps as a polling response.
func writePayload(w http.ResponseWriter, c *Conn, ps []codec.EIOPacket) {
	bp := getBuf()
	*bp = codec.AppendEIOPayload((*bp)[:0], ps)
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=UTF-8")
	h.Set("Content-Length", strconv.Itoa(len(*bp)))
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(c.cfg.WriteTimeout))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(*bp)
	putBuf(bp)
}

// serveData handles a long-polling POST: the body is a payload of packets
// from the client, bounded by MaxPayloadBytes (413 and close beyond it,
// whether announced by Content-Length or found while reading a chunked
// body), delivered as they are decoded. A payload that does not decode
// closes the session (after the packets before the bad one). An upgrade
// completed meanwhile waits for the POST to finish before the WebSocket's
// reader delivers anything (see probeLoop).
func (s *Server) serveData(w http.ResponseWriter, r *http.Request, c *Conn) {
	if r.Header.Get("Content-Type") == "application/octet-stream" {
		// Binary POST bodies are EIO v3 only.
		c.closeWith(ReasonParseError, false)
		writeError(w, codeBadRequest)
		return
	}
	c.mu.Lock()
	if c.state != stateOpen || c.transport != transPolling {
		// Upgraded since ServeHTTP looked: the WebSocket's reader delivers now.
		c.mu.Unlock()
		writeError(w, codeBadRequest)
		return
	}
	if c.postBusy {
		c.mu.Unlock()
		c.closeWith(ReasonTransportError, false)
		writeError(w, codeBadRequest)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(c.cfg.WriteTimeout))
	c.postBusy = true
	c.postRC = rc
	c.refs++
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.postBusy = false
		c.postRC = nil
		c.releasePostWaitLocked() // an upgrade's reader may start now
		c.mu.Unlock()
		c.leave()
	}()

	max := c.cfg.MaxPayloadBytes
	if r.ContentLength > max {
		c.closeWith(ReasonTooLarge, false)
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	body, err := readBody(http.MaxBytesReader(w, r.Body, max), r.ContentLength)
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			c.closeWith(ReasonTooLarge, false)
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			return
		}
		c.closeWith(ReasonTransportError, false)
		writeError(w, codeBadRequest)
		return
	}
	// Each packet is delivered as it is decoded: a body of many tiny
	// packets must not become a list of them first (a 1 MB body of noops
	// was half a million packets, ~110 MB).
	if err := codec.ScanEIOPayload(body, c.deliver); err != nil {
		c.closeWith(ReasonParseError, false)
		writeError(w, codeBadRequest)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html")
	h.Set("Content-Length", "2")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "ok")
}

// readBody reads a whole request body; n is its announced length (-1 if
// unknown) and sizes the buffer when known.
func readBody(r io.Reader, n int64) ([]byte, error) {
	if n < 0 || n > 1<<20 {
		return io.ReadAll(r)
	}
	b := make([]byte, n, n+1)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	// The body must end here (net/http enforces Content-Length).
	return b, nil
}
