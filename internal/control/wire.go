package control

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio/codec"
)

// The relay path's hand-written JSON: the `message` object is decoded and
// the replies and deliveries are encoded without reflection. Anything the
// fast decoder is not sure about (escapes, keys differing only in case,
// duplicate keys, unexpected types) goes to encoding/json, so the result is
// always what json.Unmarshal into wireMessage gives.

// parseWireFast decodes a `message` object made of plain keys and values:
// `to` a string or an array of strings, `room` and `from` strings or null,
// `data` any JSON value (copied raw), other keys skipped; toSet and roomSet
// say whether `to` and `room` were given (not null). ok is false when the
// input needs encoding/json (including when it is invalid).
func parseWireFast(b []byte) (msg router.Message, toSet, roomSet, ok bool) {
	i := skipWS(b, 0)
	if i >= len(b) || b[i] != '{' {
		return msg, false, false, false
	}
	i = skipWS(b, i+1)
	var seen uint8 // bit per known key
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			key, end, ok := plainBytes(b, i)
			if !ok {
				return msg, false, false, false
			}
			i = skipWS(b, end)
			if i >= len(b) || b[i] != ':' {
				return msg, false, false, false
			}
			i = skipWS(b, i+1)
			var bit uint8
			switch string(key) {
			case "to":
				bit = 1
			case "room":
				bit = 2
			case "from":
				bit = 4
			case "data":
				bit = 8
			default:
				if bytes.EqualFold(key, []byte("to")) || bytes.EqualFold(key, []byte("room")) ||
					bytes.EqualFold(key, []byte("from")) || bytes.EqualFold(key, []byte("data")) {
					return msg, false, false, false // encoding/json matches keys case-insensitively
				}
			}
			if seen&bit != 0 {
				return msg, false, false, false // a duplicate: the last one wins there
			}
			seen |= bit
			switch bit {
			case 1:
				switch {
				case hasLiteral(b, i, "null"):
					end = i + 4
				case i < len(b) && b[i] == '"':
					var one string
					if one, end, ok = plainString(b, i); !ok {
						return msg, false, false, false
					}
					msg.To, toSet = []string{one}, true
				case i < len(b) && b[i] == '[':
					if msg.To, end, ok = plainStrings(b, i); !ok {
						return msg, false, false, false
					}
					toSet = true
				default:
					return msg, false, false, false
				}
			case 2, 4:
				switch {
				case hasLiteral(b, i, "null"):
					end = i + 4
				case i < len(b) && b[i] == '"':
					var v string
					if v, end, ok = plainString(b, i); !ok {
						return msg, false, false, false
					}
					if bit == 2 {
						msg.Room, roomSet = v, true
					} else {
						msg.From = v
					}
				default:
					return msg, false, false, false
				}
			default: // data, or a key we skip
				if end, ok = codec.SkipJSON(b, i); !ok {
					return msg, false, false, false
				}
				if bit == 8 {
					msg.Data = bytes.Clone(b[i:end])
				}
			}
			i = skipWS(b, end)
			if i < len(b) && b[i] == ',' {
				i = skipWS(b, i+1)
				continue
			}
			if i < len(b) && b[i] == '}' {
				i++
				break
			}
			return msg, false, false, false
		}
	}
	if skipWS(b, i) != len(b) {
		return msg, false, false, false
	}
	return msg, toSet, roomSet, true
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func hasLiteral(b []byte, i int, lit string) bool {
	return len(b)-i >= len(lit) && string(b[i:i+len(lit)]) == lit
}

// plainString reads a JSON string at b[i] that has no escapes, no control
// characters and is valid UTF-8 (so its bytes are its value).
func plainString(b []byte, i int) (string, int, bool) {
	s, end, ok := plainBytes(b, i)
	if !ok {
		return "", 0, false
	}
	return string(s), end, true
}

// plainBytes is plainString without the copy: s aliases b.
func plainBytes(b []byte, i int) (s []byte, end int, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		c := b[j]
		switch {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			ascii = false
		}
	}
	return nil, 0, false
}

// plainStrings reads a JSON array of plain strings at b[i] == '['.
func plainStrings(b []byte, i int) ([]string, int, bool) {
	i = skipWS(b, i+1)
	out := []string{}
	if i < len(b) && b[i] == ']' {
		return out, i + 1, true
	}
	for {
		s, end, ok := plainString(b, i)
		if !ok {
			return nil, 0, false
		}
		out = append(out, s)
		i = skipWS(b, end)
		if i < len(b) && b[i] == ',' {
			i = skipWS(b, i+1)
			continue
		}
		if i < len(b) && b[i] == ']' {
			return out, i + 1, true
		}
		return nil, 0, false
	}
}

// routeReply encodes the `message` ack {ok:true, id, delivered, held,
// unknown, dropped?} as encoding/json would encode the equivalent struct.
func routeReply(res router.Result) json.RawMessage {
	n := 64 + len(res.ID)
	for _, l := range [][]string{res.Delivered, res.Held, res.Unknown, res.Dropped} {
		for _, s := range l {
			n += len(s) + 3
		}
	}
	return appendRouteReply(make([]byte, 0, n), res)
}

// appendRouteReply appends routeReply(res) to buf.
func appendRouteReply(buf []byte, res router.Result) []byte {
	buf = append(buf, `{"ok":true,"id":`...)
	buf = codec.AppendJSONString(buf, res.ID)
	buf = append(buf, `,"delivered":`...)
	buf = codec.AppendJSONStrings(buf, res.Delivered)
	buf = append(buf, `,"held":`...)
	buf = codec.AppendJSONStrings(buf, res.Held)
	buf = append(buf, `,"unknown":`...)
	buf = codec.AppendJSONStrings(buf, res.Unknown)
	if len(res.Dropped) > 0 {
		buf = append(buf, `,"dropped":`...)
		buf = codec.AppendJSONStrings(buf, res.Dropped)
	}
	return append(buf, '}')
}
