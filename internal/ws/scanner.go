package ws

import "encoding/binary"

// FrameScanner tracks frame boundaries in the raw bytes flowing in ONE
// direction of a tunnelled WebSocket connection, so a proxy can tell when it
// is safe to inject a frame of its own (for example Close 1001 on shutdown).
// Control frames may be injected between the fragments of a message
// (RFC 6455 §5.4), so a frame boundary is enough. Feed the bytes of the
// stream after the HTTP handshake, in order. The zero value is at a boundary.
// Not safe for concurrent use; Feed never allocates. The scanner does not
// validate frames: it only follows header lengths.
type FrameScanner struct {
	remaining uint64             // payload bytes still to skip in the current frame
	hdr       [maxHeaderLen]byte // partial header carried across Feed calls
	hdrLen    uint8              // header bytes collected so far
	hdrNeed   uint8              // full header length once known (0: unknown yet)
}

// Feed consumes the next bytes of the stream.
func (s *FrameScanner) Feed(p []byte) {
	for len(p) > 0 {
		if s.remaining > 0 {
			if uint64(len(p)) <= s.remaining {
				s.remaining -= uint64(len(p))
				return
			}
			p = p[s.remaining:]
			s.remaining = 0
		}
		// Collect the header, which may arrive in pieces.
		if s.hdrNeed == 0 {
			n := copy(s.hdr[s.hdrLen:2], p)
			s.hdrLen += uint8(n)
			p = p[n:]
			if s.hdrLen < 2 {
				return
			}
			need := uint8(2)
			switch s.hdr[1] & lenMask {
			case 126:
				need += 2
			case 127:
				need += 8
			}
			if s.hdr[1]&maskBit != 0 {
				need += 4
			}
			s.hdrNeed = need
		}
		n := copy(s.hdr[s.hdrLen:s.hdrNeed], p)
		s.hdrLen += uint8(n)
		p = p[n:]
		if s.hdrLen < s.hdrNeed {
			return
		}
		switch l := s.hdr[1] & lenMask; l {
		case 126:
			s.remaining = uint64(binary.BigEndian.Uint16(s.hdr[2:4]))
		case 127:
			s.remaining = binary.BigEndian.Uint64(s.hdr[2:10])
		default:
			s.remaining = uint64(l)
		}
		s.hdrLen, s.hdrNeed = 0, 0
	}
}

// AtBoundary reports whether the bytes fed so far end exactly at the end of
// a frame (or nothing was fed), i.e. a whole frame may be injected now.
func (s *FrameScanner) AtBoundary() bool { return s.remaining == 0 && s.hdrLen == 0 }

// AppendCloseFrame appends a Close frame with code and reason (cut to 123
// bytes) to dst and returns the extended slice. Set masked for frames sent
// toward a server (the client→server direction); the masking key is random.
// CloseNoStatus yields an empty body.
func AppendCloseFrame(dst []byte, code int, reason string, masked bool) []byte {
	var body [maxCtrlLen]byte
	p := closePayload(body[:], code, truncateReason(reason))
	var hdr [maxHeaderLen]byte
	var key uint32
	if masked {
		key = newMaskKey()
	}
	hn := putHeader(hdr[:], true, OpClose, len(p), masked, key)
	dst = append(dst, hdr[:hn]...)
	start := len(dst)
	dst = append(dst, p...)
	if masked {
		maskBytes(key, 0, dst[start:])
	}
	return dst
}
