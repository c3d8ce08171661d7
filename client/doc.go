// Package client is the Go SDK for backends behind Switchboard: it joins the
// pool over the /list channel (docs/PROTOCOL.md), claims user names
// (presence), sends and receives messages through the hub, and drains a
// backend before it stops.
//
// A Client owns one Socket.IO connection to one hub at a time. It survives
// hub restarts, network blips and failovers between several hub URLs with
// no application code: on every reconnect it announces its address again
// (with its weight, public URL and meta), re-claims every name it holds and
// re-joins every room. A name another backend claimed meanwhile is removed
// from the held set and reported to the NameLost callback (WithNameLost),
// never silently dropped. A `REPLACED` disconnect (another session announced
// the same address) is final: the client stops and Err reports ErrReplaced.
//
// Handlers (OnMessage, OnServerJoined, OnServerLeft) run one at a time on
// the connection's reader goroutine, in the hub's order. A slow handler
// slows reading, which applies backpressure to the hub (and, past the hub's
// per-session queue, gets this backend cut off as a slow consumer). A
// handler must not wait for the hub: calling Send, Join, Exists … from a
// handler and waiting for their answer blocks until the call's context or
// the ack timeout ends, because the answer is read by the goroutine the
// handler is running on. Hand such work to another goroutine.
//
// The other callbacks are not handlers and may run at the same time as
// one: the NameLost callback (WithNameLost) runs on the client's
// connection-manager goroutine, and SendMessageAsync's done callbacks run
// on the reader, on a timer's goroutine or on the goroutine that closes
// the connection (see SendMessageAsync). Synchronise what they share with
// the handlers.
//
// A panic in a callback is recovered and logged at Error. In the OnMessage
// handler it also gives the connection up: the message it panicked on is
// not confirmed to the hub, nor is any later one of the same batch nor
// any message that arrives after it on that connection; the client closes
// the connection and reconnects, and the hub delivers those direct
// messages again once the client has re-claimed their names: at least
// once, with the same ID, as far as the names' mailboxes hold them (100
// messages per name by default; the oldest are dropped first), as for a
// backend that dies with messages in flight (docs/PROTOCOL.md, delivery
// guarantees). Room and public messages are never re-sent. A message the handler panics on every time therefore
// comes back after every reconnect (the client backs off between them, as
// for any connection that keeps dropping): recover in the handler what it
// can handle. A panic in OnServerJoined or OnServerLeft closes the
// connection too (the client reconnects); one in NameLost or a done
// callback does not.
//
// Every callback may call Close: it then returns without waiting for the
// client's goroutines (see Close).
//
// Messages sent with SendMessageAsync while an earlier one awaits the hub's
// answer are coalesced into one `message` event carrying an array (at most
// 1000 messages; binary ones go alone), and the client announces that it
// takes deliveries in arrays too: one packet and one ack per burst instead
// of per message, with per-message answers as before. A hub without batch
// support is detected on the first array and the connection falls back to
// single messages; WithBatching(false) turns batching off.
//
// The package imports only the standard library and Switchboard's protocol
// packages (internal/sio, internal/sio/eio, internal/ws, internal/rawio); a test
// checks it.
package client
