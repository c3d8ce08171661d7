package proxy

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

// The access log (Config.AccessLog): one Info line per proxied request,
// "request", with the client, method, URI, the status the client got (499
// when it left first, 101 for a tunnel), the response body bytes sent (not
// counting a tunnel's traffic), the backend last tried (empty when none
// was), and the time until the answer was written (for a tunnel: until it
// was set up).

// logAccess writes one access log line.
func (p *Proxy) logAccess(ctx context.Context, client, method, uri string, n accessNote, d time.Duration) {
	p.log.LogAttrs(ctx, slog.LevelInfo, "request",
		slog.String("client", client), slog.String("method", method), slog.String("uri", uri),
		slog.Int("status", n.status), slog.Int64("bytes", n.bytes), slog.String("backend", n.backend), slog.Duration("duration", d))
}

// accessNote is what either front end learns about a request for its log
// line.
type accessNote struct {
	status  int
	bytes   int64
	backend string
}

// serveLogged is ServeHTTP with an access log line.
func (p *Proxy) serveLogged(w http.ResponseWriter, r *http.Request) {
	aw := &accessWriter{ResponseWriter: w}
	start := time.Now()
	defer func() {
		if aw.status == 0 && r.Context().Err() != nil {
			aw.status = statusClientGone
		}
		p.logAccess(r.Context(), clientIP(r.RemoteAddr), r.Method, r.RequestURI, aw.accessNote, time.Since(start))
	}()
	p.serve(aw, r)
}

// statusClientGone is what the logs call a request whose client left
// before its answer (nginx's 499).
const statusClientGone = 499

// accessWriter records the status, bytes and backend of a net/http
// request.
type accessWriter struct {
	http.ResponseWriter
	accessNote
}

func (w *accessWriter) WriteHeader(code int) {
	if w.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *accessWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush passes through (streamed bodies and Server-Sent Events).
func (w *accessWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection (Hijack).
func (w *accessWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// noteBackend records the backend tried for the access log.
func noteBackend(w http.ResponseWriter, b *backend.Backend) {
	if aw, ok := w.(*accessWriter); ok {
		aw.backend = b.Addr
	}
}

// noteTunnel records a tunnel set up on a hijacked connection (its 101
// went to the client directly, not through WriteHeader).
func noteTunnel(w http.ResponseWriter) {
	if aw, ok := w.(*accessWriter); ok {
		aw.status = http.StatusSwitchingProtocols
	}
}
