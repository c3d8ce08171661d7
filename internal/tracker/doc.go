// Package tracker owns Switchboard's public, read-only endpoint for browsers
// (issue 5, the original README's "Easy to implement" mode): a Socket.IO
// server, by default at the Engine.IO path /tracker, namespace "/", that sends
// every client the list of backends in the pool (`servers`) and then each
// change (`server_joined`, `server_left`), and GET <path>/servers, the same
// list as JSON for clients without Socket.IO.
//
// It only reads the backend.Registry: nothing a browser sends changes any
// state. Unknown events are ignored and counted; a client that sends more
// than Config.EventRate events per second is disconnected. The event bucket
// is the Engine.IO session's, and the CONNECT counts against it: a session
// whose "/" socket left (a client DISCONNECT or a flood) is closed if it
// CONNECTs again, so a fresh bucket and the whole list cost a new
// handshake, limited per client IP. Handshakes are
// limited per client IP (token bucket) and in total (Config.MaxClients);
// browser origins are checked for both CORS and WebSocket (same origin only
// unless Config.AllowedOrigins says otherwise).
//
// It does not relay messages between backends (package control owns the
// /list channel and its `broadcast`) nor proxy anything.
//
// Fan-out: registry changes are queued (bounded, never blocking the
// registry's writer) and sent by the goroutine running Run, encoded once per
// change and shared by every client. A client whose send queue is full is
// cut off at once (sio's Broadcast never waits on one socket) rather than
// allowed to delay the others; the queue (SendQueue, 256) holds a burst of
// changes far larger than a healthy client ever lags behind.
//
// Locks: Tracker.sendMu serialises the fan-out with the `servers` packet
// queued for a new client, so a client never sees a change before the list
// it applies to. It is held while packets are queued for every client (not
// while they are written), which never waits: a full queue cuts its client
// off. Tracker.mu (the pending changes),
// Tracker.endMu (the sessions whose socket left) and the ratelimit.Limiter's
// lock (the per-IP buckets) are leaves: no other lock is taken while holding
// them.
package tracker
