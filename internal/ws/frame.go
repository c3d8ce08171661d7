package ws

import (
	"encoding/binary"
	"math/rand/v2"
	"unicode/utf8"
)

// Frame header bits (RFC 6455 §5.2).
const (
	finBit     = 0x80
	rsvBits    = 0x70
	opMask     = 0x0f
	maskBit    = 0x80
	lenMask    = 0x7f
	maxCtrlLen = 125
	// maxHeaderLen is 2 bytes + 8 extended length + 4 masking key.
	maxHeaderLen = 14
)

// isControl reports whether op is a control opcode (close, ping, pong).
func isControl(op byte) bool { return op&0x8 != 0 }

// putHeader writes a frame header for a payload of n bytes into b (which
// must hold maxHeaderLen bytes) and returns its length. When masked, key is
// appended as the masking key.
func putHeader(b []byte, fin bool, op byte, n int, masked bool, key uint32) int {
	b0 := op & opMask
	if fin {
		b0 |= finBit
	}
	b[0] = b0
	var m byte
	if masked {
		m = maskBit
	}
	i := 2
	switch {
	case n <= 125:
		b[1] = m | byte(n)
	case n <= 0xffff:
		b[1] = m | 126
		binary.BigEndian.PutUint16(b[2:4], uint16(n))
		i = 4
	default:
		b[1] = m | 127
		binary.BigEndian.PutUint64(b[2:10], uint64(n))
		i = 10
	}
	if masked {
		binary.LittleEndian.PutUint32(b[i:i+4], key)
		i += 4
	}
	return i
}

// newMaskKey returns a fresh masking key. RFC 6455 §5.3 asks for an
// unpredictable key per frame; math/rand/v2's top-level generator is a
// ChaCha8 stream seeded from the OS, which is unpredictable to the peer and
// cheap enough to call per frame.
func newMaskKey() uint32 { return rand.Uint32() }

// maskBytes XORs b in place with the 4-byte key (stored little-endian, so
// byte 0 of the key is the low byte), starting at key offset pos%4, and
// returns the offset after b. Masking and unmasking are the same operation.
func maskBytes(key uint32, pos int, b []byte) int {
	// Rotate so that the key lines up with position 0 of b.
	pos &= 3
	k := key>>(8*pos) | key<<(32-8*pos) // Go shifts by >= 32 yield 0
	i := 0
	if len(b) >= 8 {
		k64 := uint64(k) | uint64(k)<<32
		for ; i+32 <= len(b); i += 32 {
			s := b[i : i+32 : i+32]
			binary.LittleEndian.PutUint64(s[0:], binary.LittleEndian.Uint64(s[0:])^k64)
			binary.LittleEndian.PutUint64(s[8:], binary.LittleEndian.Uint64(s[8:])^k64)
			binary.LittleEndian.PutUint64(s[16:], binary.LittleEndian.Uint64(s[16:])^k64)
			binary.LittleEndian.PutUint64(s[24:], binary.LittleEndian.Uint64(s[24:])^k64)
		}
		for ; i+8 <= len(b); i += 8 {
			binary.LittleEndian.PutUint64(b[i:], binary.LittleEndian.Uint64(b[i:])^k64)
		}
	}
	for ; i < len(b); i++ {
		b[i] ^= byte(k >> (8 * ((i) & 3)))
	}
	return (pos + len(b)) & 3
}

// validCloseCode reports whether code may appear in a Close frame on the wire
// (RFC 6455 §7.4 and the IANA registry: 1004-1006 and 1015 are reserved and
// never sent; 3000-4999 are for libraries and applications).
func validCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003:
		return true
	case code >= 1007 && code <= 1014:
		return true
	case code >= 3000 && code <= 4999:
		return true
	}
	return false
}

// closePayload builds a Close frame body into b (len >= 125): the status
// code in network order and the reason. CloseNoStatus yields an empty body.
func closePayload(b []byte, code int, reason string) []byte {
	if code == CloseNoStatus {
		return b[:0]
	}
	binary.BigEndian.PutUint16(b, uint16(code))
	n := copy(b[2:maxCtrlLen], reason)
	return b[:2+n]
}

// truncateReason cuts reason to at most 123 bytes on a rune boundary so the
// Close body fits a control frame.
func truncateReason(reason string) string {
	const max = maxCtrlLen - 2
	if len(reason) <= max {
		return reason
	}
	i := max
	for i > 0 && !utf8.RuneStart(reason[i]) {
		i--
	}
	return reason[:i]
}
