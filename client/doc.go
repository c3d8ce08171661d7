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
