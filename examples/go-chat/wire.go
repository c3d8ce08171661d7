package main

import (
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/client"
)

// The hot path (a user's dm → the hub → another user's msg) builds and
// reads its JSON by hand: a chat line is parsed once, its text travels as
// the JSON string token the sender wrote, and no reflection runs per
// message. Anything unusual (escapes in names, unknown keys, other value
// types) falls back to encoding/json, so the results are the same.

// strToken returns the end (exclusive) of the JSON string token starting
// at b[i] == '"', and whether it holds escapes. ok is false when b[i] is
// not a quote or the token is not a valid JSON string: unterminated,
// control characters, an escape JSON does not define, or (unless escaped)
// invalid UTF-8.
func strToken(b []byte, i int) (end int, escaped, ok bool) {
	if i >= len(b) || b[i] != '"' {
		return 0, false, false
	}
	high := false
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			if high && !utf8.Valid(b[i+1:j]) {
				return 0, false, false
			}
			return j + 1, escaped, true
		case c == '\\':
			n := escapeLen(b[j+1:])
			if n == 0 {
				return 0, false, false
			}
			escaped = true
			j += n
		case c < 0x20:
			return 0, false, false
		case c >= 0x80:
			high = true
		}
	}
	return 0, false, false
}

// escapeLen returns how many bytes after a backslash its escape takes
// (1, or 5 for \uXXXX), or 0 when b does not start a valid JSON escape.
func escapeLen(b []byte) int {
	if len(b) == 0 {
		return 0
	}
	switch b[0] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 1
	case 'u':
		if len(b) < 5 {
			return 0
		}
		for _, h := range b[1:5] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return 0
			}
		}
		return 5
	}
	return 0
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// plainString returns the contents of a JSON string token without escapes
// (valid UTF-8, no control characters); ok false for anything else.
func plainString(raw []byte) (string, bool) {
	i := skipWS(raw, 0)
	end, esc, ok := strToken(raw, i)
	if !ok || esc || skipWS(raw, end) != len(raw) {
		return "", false
	}
	return string(raw[i+1 : end-1]), true
}

// scanTextArg reads {"to"?:…, "room"?:…, "text":"…"} with string values
// only and no duplicate keys; ok false sends the caller to encoding/json.
func scanTextArg(a []byte) (t textArg, ok bool) {
	i := skipWS(a, 0)
	if i >= len(a) || a[i] != '{' {
		return t, false
	}
	i = skipWS(a, i+1)
	if i < len(a) && a[i] == '}' {
		return t, skipWS(a, i+1) == len(a)
	}
	for {
		kEnd, esc, ok := strToken(a, i)
		if !ok || esc {
			return t, false
		}
		key := string(a[i+1 : kEnd-1])
		i = skipWS(a, kEnd)
		if i >= len(a) || a[i] != ':' {
			return t, false
		}
		i = skipWS(a, i+1)
		vEnd, vEsc, ok := strToken(a, i)
		if !ok || vEsc {
			return t, false // escapes: encoding/json decodes (and checks) them
		}
		v := a[i:vEnd]
		switch key {
		case "to":
			if t.To != nil {
				return t, false
			}
			t.To = v
		case "room":
			if t.Room != nil {
				return t, false
			}
			t.Room = v
		case "text":
			if t.textJSON != nil {
				return t, false
			}
			t.textJSON = v
			s := string(v[1 : len(v)-1])
			t.Text = &s
		default:
			return t, false
		}
		i = skipWS(a, vEnd)
		if i < len(a) && a[i] == ',' {
			i = skipWS(a, i+1)
			continue
		}
		if i < len(a) && a[i] == '}' {
			return t, skipWS(a, i+1) == len(a)
		}
		return t, false
	}
}

// textToken returns the JSON string token of a {"text":"…"} payload (the
// chat's own data); ok false for any other shape.
func textToken(data []byte) ([]byte, bool) {
	i := skipWS(data, 0)
	if i >= len(data) || data[i] != '{' {
		return nil, false
	}
	i = skipWS(data, i+1)
	kEnd, esc, ok := strToken(data, i)
	if !ok || esc || string(data[i+1:kEnd-1]) != "text" {
		return nil, false
	}
	i = skipWS(data, kEnd)
	if i >= len(data) || data[i] != ':' {
		return nil, false
	}
	i = skipWS(data, i+1)
	vEnd, _, ok := strToken(data, i)
	if !ok {
		return nil, false
	}
	j := skipWS(data, vEnd)
	if j >= len(data) || data[j] != '}' || skipWS(data, j+1) != len(data) {
		return nil, false
	}
	return data[i:vEnd], true
}

// appendNullable appends s as a JSON string, or null when empty.
func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return client.AppendJSONString(b, s)
}

// appendMsg appends the page's `msg` object {kind, from, room, text, via,
// id} (from, room and id null when empty) with text given as a JSON string
// token. id is Switchboard's message ID: a message handed out again after
// a backend died keeps it, so the page drops what it has already shown.
func appendMsg(b []byte, kind, from, room string, text []byte, via, id string) []byte {
	b = append(b, `{"kind":`...)
	b = client.AppendJSONString(b, kind)
	b = append(b, `,"from":`...)
	b = appendNullable(b, from)
	b = append(b, `,"room":`...)
	b = appendNullable(b, room)
	b = append(b, `,"text":`...)
	b = append(b, text...)
	b = append(b, `,"via":`...)
	b = client.AppendJSONString(b, via)
	b = append(b, `,"id":`...)
	b = appendNullable(b, id)
	return append(b, '}')
}

// appendSent appends the page's answer to a routed message.
func appendSent(b []byte, r client.SendResult) []byte {
	b = append(b, `{"ok":true,"id":`...)
	b = client.AppendJSONString(b, r.ID)
	b = append(b, `,"delivered":`...)
	b = client.AppendJSONStrings(b, r.Delivered)
	b = append(b, `,"held":`...)
	b = client.AppendJSONStrings(b, r.Held)
	b = append(b, `,"unknown":`...)
	b = client.AppendJSONStrings(b, r.Unknown)
	return append(b, '}')
}
