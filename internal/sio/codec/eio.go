package codec

import (
	"bytes"
	"encoding/base64"
	"errors"
)

// EIOType is an Engine.IO v4 packet type. On the wire it is the ASCII digit
// '0'+type (engine.io-protocol, "Packet encoding").
type EIOType byte

// Engine.IO v4 packet types.
const (
	EIOOpen    EIOType = 0 // server → client, handshake data (JSON)
	EIOClose   EIOType = 1 // ends the session
	EIOPing    EIOType = 2 // heartbeat (server → client in v4), or "probe" during upgrade
	EIOPong    EIOType = 3 // heartbeat answer, or "probe" during upgrade
	EIOMessage EIOType = 4 // application data, text or binary
	EIOUpgrade EIOType = 5 // client → server, completes the upgrade
	EIONoop    EIOType = 6 // no-op, used to end a pending poll during upgrade
)

// EIORecordSeparator separates packets in an HTTP long-polling payload.
const EIORecordSeparator = 0x1e

// Errors returned by the Engine.IO decoders.
var (
	ErrEIOEmpty       = errors.New("codec: empty engine.io packet")
	ErrEIOUnknownType = errors.New("codec: unknown engine.io packet type")
	ErrEIOBadBase64   = errors.New("codec: bad base64 in engine.io binary packet")
)

// EIOPacket is one Engine.IO packet. Binary is meaningful only for
// EIOMessage: Data is then raw bytes rather than UTF-8 text.
type EIOPacket struct {
	Type   EIOType
	Data   []byte
	Binary bool
}

// String returns the packet type's name, as the protocol documentation
// spells it.
func (t EIOType) String() string {
	switch t {
	case EIOOpen:
		return "open"
	case EIOClose:
		return "close"
	case EIOPing:
		return "ping"
	case EIOPong:
		return "pong"
	case EIOMessage:
		return "message"
	case EIOUpgrade:
		return "upgrade"
	case EIONoop:
		return "noop"
	}
	return "unknown"
}

// AppendEIOPacket appends p in its WebSocket frame form and reports whether
// the frame must be sent as a binary frame. A binary message is its raw
// bytes (sent in a binary frame); every other packet is the type digit
// followed by its data (sent in a text frame). It does not allocate when dst
// has room.
func AppendEIOPacket(dst []byte, p EIOPacket) (out []byte, binary bool) {
	if p.Binary && p.Type == EIOMessage {
		return append(dst, p.Data...), true
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...), false
}

// DecodeEIOPacket decodes one WebSocket frame (binary tells whether it
// arrived in a binary frame). The returned Data aliases frame.
func DecodeEIOPacket(frame []byte, binary bool) (EIOPacket, error) {
	if binary {
		return EIOPacket{Type: EIOMessage, Data: frame, Binary: true}, nil
	}
	if len(frame) == 0 {
		return EIOPacket{}, ErrEIOEmpty
	}
	t := frame[0] - '0'
	if t > byte(EIONoop) {
		return EIOPacket{}, ErrEIOUnknownType
	}
	return EIOPacket{Type: EIOType(t), Data: frame[1:]}, nil
}

// AppendEIOPayloadPacket appends p to a long-polling payload being built in
// dst: a record separator first unless dst[start:] is empty, then the packet
// (a binary message as 'b' followed by standard base64). Text data must not
// contain the record separator 0x1e (JSON never does: it escapes control
// characters). It does not allocate when dst has room.
func AppendEIOPayloadPacket(dst []byte, start int, p EIOPacket) []byte {
	if len(dst) > start {
		dst = append(dst, EIORecordSeparator)
	}
	if p.Binary && p.Type == EIOMessage {
		dst = append(dst, 'b')
		return base64.StdEncoding.AppendEncode(dst, p.Data)
	}
	dst = append(dst, '0'+byte(p.Type))
	return append(dst, p.Data...)
}

// AppendEIOPayload appends the long-polling payload form of ps to dst:
// the packets joined by 0x1e (see AppendEIOPayloadPacket).
func AppendEIOPayload(dst []byte, ps []EIOPacket) []byte {
	start := len(dst)
	for _, p := range ps {
		dst = AppendEIOPayloadPacket(dst, start, p)
	}
	return dst
}

// ScanEIOPayload decodes a long-polling payload one packet at a time and
// calls yield with each, in order, as soon as it is decoded; it stops, and
// returns nil, when yield returns false. No list of packets is built, so
// the memory a payload costs is proportional to its bytes, not to the
// number of packets in it: a body of half a million one-byte noops costs
// nothing beyond the body. Text packets' Data aliases payload; binary ones
// are freshly decoded. An empty payload, an empty packet, an unknown type
// or bad base64 is an error, returned after the packets before it were
// yielded (engine.io's decodePayload hands those over too); the session
// must then be closed.
func ScanEIOPayload(payload []byte, yield func(EIOPacket) bool) error {
	if len(payload) == 0 {
		return ErrEIOEmpty
	}
	for {
		rec := payload
		i := bytes.IndexByte(payload, EIORecordSeparator)
		if i >= 0 {
			rec, payload = payload[:i], payload[i+1:]
		}
		p, err := decodeEIORecord(rec)
		if err != nil {
			return err
		}
		if !yield(p) || i < 0 {
			return nil
		}
	}
}

func decodeEIORecord(rec []byte) (EIOPacket, error) {
	if len(rec) == 0 {
		return EIOPacket{}, ErrEIOEmpty
	}
	if rec[0] == 'b' {
		data, err := base64.StdEncoding.AppendDecode(make([]byte, 0, base64.StdEncoding.DecodedLen(len(rec)-1)), rec[1:])
		if err != nil {
			return EIOPacket{}, ErrEIOBadBase64
		}
		return EIOPacket{Type: EIOMessage, Data: data, Binary: true}, nil
	}
	return DecodeEIOPacket(rec, false)
}
