package sio

import (
	"net/http"
	"net/url"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// engineConn is what this package needs from an Engine.IO session; *eio.Conn
// implements it. Tests may substitute an in-memory pair.
type engineConn interface {
	ID() string
	Transport() string
	RemoteAddr() string
	Header() http.Header
	Query() url.Values
	Send(msgs ...eio.Message) error
	TrySend(msgs ...eio.Message) error
	Close(reason string)
	Done() <-chan struct{}
}

var _ engineConn = (*eio.Conn)(nil)

// sendPacket sends a text packet followed by its attachments as one
// ordered batch.
func sendPacket(ec engineConn, text []byte, atts [][]byte) error {
	return sendPacketVia(ec, nil, text, atts)
}

// sendPacketVia is sendPacket from the handler of via's socket: see
// eio.Conn.SendVia (via may be nil).
func sendPacketVia(ec engineConn, via *Socket, text []byte, atts [][]byte) error {
	c, ok := ec.(*eio.Conn)
	var from *eio.Conn
	if via != nil {
		from, _ = via.c.ec.(*eio.Conn)
	}
	if len(atts) == 0 {
		if ok {
			// The concrete call lets the variadic slice stay on the stack.
			return mapSendErr(c.SendVia(from, eio.Message{Data: text}))
		}
		return mapSendErr(ec.Send(eio.Message{Data: text}))
	}
	msgs := make([]eio.Message, 1+len(atts))
	msgs[0] = eio.Message{Data: text}
	for i, a := range atts {
		msgs[i+1] = eio.Message{Data: a, Binary: true}
	}
	if ok {
		return mapSendErr(c.SendVia(from, msgs...))
	}
	return mapSendErr(ec.Send(msgs...))
}
