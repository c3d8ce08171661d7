package proxy

import (
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/internal/rawio"
)

// Client-gone detection on the fast path.
//
// The net/http front learns that a client left while the backend is still
// thinking through the request context: net/http keeps a 1-byte read
// pending on every connection with a request in flight, and an EOF or an
// error there cancels the context (connReader.backgroundRead and
// handleReadError in net/http's server.go); forward then closes the
// upstream connection. The fast path serves a connection on one goroutine,
// blocked on the backend while it waits for the response head, and a
// background read per request would cost it a goroutine and a wake-up on
// every request, most of which are answered in microseconds.
//
// Instead one watcher goroutine per Server looks, every clientWatchEvery,
// for fast-path requests that have been waiting on the backend for at
// least that long — for their response head (a long-poll, a slow backend)
// or for the next bytes of a streamed body (an idle event stream) — and
// peeks at their client sockets with a non-blocking recv(MSG_PEEK). The fast request
// itself only publishes what it waits for (two atomic stores and a CAS per
// request, no syscall, no allocation). A client counts as gone exactly
// when net/http's background read would cancel the request:
//
//   - EOF: the client closed, or half-closed, its connection. The two
//     look the same from here without writing to the socket, and net/http
//     treats both as a cancellation, so the two fronts agree;
//   - an error such as ECONNRESET: the client reset the connection;
//   - but not bytes waiting to be read: that is a pipelined request, and
//     the client is still there (net/http does not cancel on them either).
//
// The watcher then closes the upstream connection (the backend sees it
// close, and a late response can never be taken for the next request's:
// it is not returned to the pool) and the fast request ends as a client
// cancel (499 in the log, no backend penalty, no retry) by closing the
// client connection. An abandoned request is thus aborted between one and
// two intervals after its client left.
//
// Cost: a tick scans the Server's connections under Server.mu (atomic
// loads only) and makes one recv syscall per request that has been
// waiting for longer than an interval; with many long-polls held open by
// backends (Engine.IO holds one up to 25 s) that is 4 syscalls per second
// per held request. Clients served over TLS by the front end cannot be
// peeked at and are not watched.
const clientWatchEvery = 250 * time.Millisecond

// watchUpstream publishes that fc waits for a response head from c since
// start (unix nanoseconds).
func (fc *fastConn) watchUpstream(c *upConn, start int64) {
	fc.upSince.Store(start)
	fc.upWait.Store(c)
}

// unwatchUpstream ends the wait for c. It reports false when the watcher
// found the client gone first: it closed c, which must not be reused.
func (fc *fastConn) unwatchUpstream(c *upConn) bool {
	return fc.upWait.CompareAndSwap(c, nil)
}

// watchClients runs the watcher until stopWatch.
func (s *Server) watchClients() {
	t := time.NewTicker(clientWatchEvery)
	defer t.Stop()
	var slow []*fastConn
	for {
		select {
		case <-s.watchStop:
			return
		case now := <-t.C:
			slow = s.slowRequests(now, slow[:0])
			for i, fc := range slow {
				fc.abortIfClientGone()
				slow[i] = nil
			}
			if h := s.testHookWatched.Load(); h != nil {
				(*h)(len(slow))
			}
		}
	}
}

// slowRequests appends to out the connections whose request has waited for
// its response head since before now-clientWatchEvery.
func (s *Server) slowRequests(now time.Time, out []*fastConn) []*fastConn {
	limit := now.Add(-clientWatchEvery).UnixNano()
	s.mu.Lock()
	for fc := range s.conns {
		if fc.upWait.Load() != nil && fc.upSince.Load() <= limit {
			out = append(out, fc)
		}
	}
	s.mu.Unlock()
	return out
}

// abortIfClientGone closes the upstream connection fc waits on when fc's
// client has gone. The CAS decides between the watcher and the request
// itself (unwatchUpstream): only one of them owns the outcome.
func (fc *fastConn) abortIfClientGone() {
	c := fc.upWait.Load()
	// fc.raw is set before the first request is published: reading it
	// after seeing one is ordered by the atomic load.
	if c == nil || fc.raw == nil || !peerGone(fc.raw) {
		return
	}
	if fc.upWait.CompareAndSwap(c, nil) {
		_ = c.nc.Close() // wakes the request's read; it closes c again and frees its buffers
	}
}

// stopWatch ends the watcher (idempotent).
func (s *Server) stopWatch() { s.watchOnce.Do(func() { close(s.watchStop) }) }

// peerGone reports whether the peer of a connection closed (EOF) or reset
// it, without consuming anything: waiting bytes mean the peer is there.
// A socket that cannot be examined (closed meanwhile) does not count.
func peerGone(rc syscall.RawConn) bool {
	gone := false
	var b [1]byte
	err := rc.Control(func(fd uintptr) {
		n, err := rawio.Peek(int(fd), b[:])
		switch {
		case err == syscall.EAGAIN || err == syscall.EWOULDBLOCK:
		case err != nil:
			gone = true // ECONNRESET and the like
		case n == 0:
			gone = true // EOF
		}
	})
	return err == nil && gone
}
