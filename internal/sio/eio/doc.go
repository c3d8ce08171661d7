// Package eio implements Engine.IO protocol v4 (server and client): the
// handshake, HTTP long-polling, the WebSocket transport, the polling to
// WebSocket upgrade and the heartbeat. It moves opaque messages; the
// Socket.IO layer above (package sio) gives them meaning. Packet encoding
// lives in package codec; WebSocket framing in package ws.
//
// Behaviour follows Node's engine.io 6.x with EIO=4 only: the same error
// codes and JSON bodies for refused requests, the same close reasons, at
// most one pending GET and one pending POST per polling session (an
// overlap closes it), an undecodable or oversized payload closes the
// session, and an upgraded session refuses further HTTP requests.
//
// # Mounting
//
// Server.ServeHTTP does not look at the path: mount it so that only the
// engine path reaches it ("/socket.io/{$}" with net/http.ServeMux, not
// "/socket.io/", which also matches "/socket.io/anything").
//
// # Goroutines and memory
//
// A WebSocket session has one reader goroutine, which calls
// Handler.OnMessage synchronously (a blocking handler pauses reads from that
// peer: backpressure), and a writer goroutine only while there is something
// to send. A polling session has no goroutine of its own: requests run on
// net/http's. Heartbeats, upgrade and close deadlines use one time.AfterFunc
// timer per session. Outbound messages wait in a queue bounded by
// Config.SendQueue; Send blocks on a full queue for up to StallTimeout, then
// drops the session as a slow consumer (TrySend drops it at once).
//
// # Locks
//
// Server.mu guards the session table; Conn.mu guards one session's state.
// Lock order: Server.mu before Conn.mu. No lock is held across network I/O
// or a Handler call.
package eio
