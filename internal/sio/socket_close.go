package sio

// CloseTransport ends the whole Engine.IO session this socket rides on
// (every namespace of it) with reason, without sending DISCONNECT: unlike
// Disconnect, the client sees a transport close and reconnects by itself.
// Use it to cut off a slow consumer that should come back. Idempotent.
func (s *Socket) CloseTransport(reason string) { s.c.ec.Close(reason) }
