// Package ws implements the WebSocket protocol (RFC 6455) for Switchboard:
// the server handshake over net/http (Accept), a client dialer (Dial),
// message framing with size limits (Conn), and a frame-boundary scanner for
// proxies that tunnel raw WebSocket bytes (FrameScanner, AppendCloseFrame).
//
// It does not implement extensions (permessage-deflate is declined during
// the handshake) or subprotocol negotiation beyond echoing the first offered
// one, and it does not fragment outgoing messages.
//
// # Memory
//
// An idle Conn holds no read or write buffer: the reading goroutine blocks
// on a 2-byte read into an array inside the Conn, payloads are read with
// exact-size reads into the slice returned to the caller, and writes borrow
// a pooled buffer for the duration of one frame. Accept copies the bytes
// net/http had already buffered and keeps neither of its bufio buffers. For
// the smallest footprint, hand an accepted Conn to a goroutine and return
// from the HTTP handler: a handler that keeps running keeps net/http's
// per-connection state (about 10 KiB) alive too.
//
// # Concurrency
//
// One goroutine reads (ReadMessage); any number may write. The only lock is
// Conn's write mutex, held for the duration of one frame write (with the
// WriteTimeout deadline) and never while reading.
package ws
