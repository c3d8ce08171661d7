package codec

import "unicode/utf8"

// A JSON validator that never builds values: it walks the bytes once and
// reports where each value ends. The Socket.IO hot path uses it to check an
// event's arguments and slice them out of the packet without allocating.

// jsonMaxDepth bounds nesting (encoding/json uses 10000; we are stricter
// because no legitimate event nests that deep and the walk is recursive).
const jsonMaxDepth = 1000

// jsonErr is a sentinel; callers wrap it once at the API boundary.
type jsonErr struct{}

func (jsonErr) Error() string { return "invalid JSON" }

var errJSON error = jsonErr{}

// ValidJSON reports whether b is exactly one JSON value (RFC 8259),
// optionally surrounded by whitespace. Like encoding/json.Valid it does not
// check that strings are valid UTF-8. Nesting deeper than 1000 is refused.
func ValidJSON(b []byte) bool {
	i := jsonSkipWS(b, 0)
	end, err := jsonSkipValue(b, i, 0)
	if err != nil {
		return false
	}
	return jsonSkipWS(b, end) == len(b)
}

func jsonIsWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func jsonSkipWS(b []byte, i int) int {
	for i < len(b) && jsonIsWS(b[i]) {
		i++
	}
	return i
}

// IsJSONArray reports whether the JSON value b is an array, from its first
// non-space byte (it does not validate b).
func IsJSONArray(b []byte) bool {
	i := jsonSkipWS(b, 0)
	return i < len(b) && b[i] == '['
}

// jsonSkipValue validates the value starting at b[i] (no leading
// whitespace) and returns the index just past it.
func jsonSkipValue(b []byte, i, depth int) (int, error) {
	if i >= len(b) {
		return 0, errJSON
	}
	switch c := b[i]; {
	case c == '"':
		end, _, err := jsonSkipString(b, i)
		return end, err
	case c == '{':
		return jsonSkipObject(b, i, depth+1)
	case c == '[':
		return jsonSkipArray(b, i, depth+1)
	case c == 't':
		return jsonSkipLiteral(b, i, "true")
	case c == 'f':
		return jsonSkipLiteral(b, i, "false")
	case c == 'n':
		return jsonSkipLiteral(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return jsonSkipNumber(b, i)
	}
	return 0, errJSON
}

func jsonSkipLiteral(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return 0, errJSON
	}
	return i + len(lit), nil
}

// jsonStringSafe[c] is true for bytes that need no attention inside a string.
var jsonStringSafe = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// jsonSkipString validates the string starting at b[i] == '"' and returns
// the index past its closing quote and whether it contains escapes.
func jsonSkipString(b []byte, i int) (int, bool, error) {
	i++
	escaped := false
	for {
		for i < len(b) && jsonStringSafe[b[i]] {
			i++
		}
		if i >= len(b) {
			return 0, false, errJSON
		}
		switch b[i] {
		case '"':
			return i + 1, escaped, nil
		case '\\':
			escaped = true
			if i+1 >= len(b) {
				return 0, false, errJSON
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if len(b)-i < 6 {
					return 0, false, errJSON
				}
				for _, h := range b[i+2 : i+6] {
					if !jsonIsHex(h) {
						return 0, false, errJSON
					}
				}
				i += 6
			default:
				return 0, false, errJSON
			}
		default: // control character
			return 0, false, errJSON
		}
	}
}

func jsonIsHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func jsonSkipDigits(b []byte, i int) int {
	for i < len(b) && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	return i
}

func jsonSkipNumber(b []byte, i int) (int, error) {
	if b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return 0, errJSON
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		i = jsonSkipDigits(b, i+1)
	default:
		return 0, errJSON
	}
	if i < len(b) && b[i] == '.' {
		j := jsonSkipDigits(b, i+1)
		if j == i+1 {
			return 0, errJSON
		}
		i = j
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		j := jsonSkipDigits(b, i)
		if j == i {
			return 0, errJSON
		}
		i = j
	}
	return i, nil
}

func jsonSkipArray(b []byte, i, depth int) (int, error) {
	if depth > jsonMaxDepth {
		return 0, errJSON
	}
	return jsonWalkArray(b, i, errJSON, func(i int) (int, error) { return jsonSkipValue(b, i, depth) })
}

// jsonWalkArray walks the array whose '[' is at b[i], calling elem with
// the index of each element (no leading whitespace) for the index past
// it, and returns the index past the ']'; bad is the error for a malformed
// array.
func jsonWalkArray(b []byte, i int, bad error, elem func(int) (int, error)) (int, error) {
	i = jsonSkipWS(b, i+1)
	if i < len(b) && b[i] == ']' {
		return i + 1, nil
	}
	for {
		end, err := elem(i)
		if err != nil {
			return 0, err
		}
		i = jsonSkipWS(b, end)
		if i >= len(b) {
			return 0, bad
		}
		switch b[i] {
		case ']':
			return i + 1, nil
		case ',':
			i = jsonSkipWS(b, i+1)
		default:
			return 0, bad
		}
	}
}

func jsonSkipObject(b []byte, i, depth int) (int, error) {
	if depth > jsonMaxDepth {
		return 0, errJSON
	}
	i = jsonSkipWS(b, i+1)
	if i < len(b) && b[i] == '}' {
		return i + 1, nil
	}
	for {
		if i >= len(b) || b[i] != '"' {
			return 0, errJSON
		}
		end, _, err := jsonSkipString(b, i)
		if err != nil {
			return 0, err
		}
		i = jsonSkipWS(b, end)
		if i >= len(b) || b[i] != ':' {
			return 0, errJSON
		}
		i = jsonSkipWS(b, i+1)
		if end, err = jsonSkipValue(b, i, depth); err != nil {
			return 0, err
		}
		i = jsonSkipWS(b, end)
		if i >= len(b) {
			return 0, errJSON
		}
		switch b[i] {
		case '}':
			return i + 1, nil
		case ',':
			i = jsonSkipWS(b, i+1)
		default:
			return 0, errJSON
		}
	}
}

// jsonAppendString appends s as a JSON string literal. Like
// encoding/json it escapes <, > and & so the output is safe in HTML, and
// U+2028/U+2029 for JavaScript; invalid UTF-8 becomes U+FFFD.
func jsonAppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', jsonHex[c>>4], jsonHex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0xFFFD && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', jsonHex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const jsonHex = "0123456789abcdef"

// SkipJSON validates the JSON value starting at b[i] (leading whitespace
// allowed) and returns the index just past it, or false when there is no
// valid value there. It allocates nothing; parsers of hot event payloads
// use it to step over values they keep raw.
func SkipJSON(b []byte, i int) (int, bool) {
	end, err := jsonSkipValue(b, jsonSkipWS(b, i), 0)
	return end, err == nil
}
