package main

import (
	"encoding/json"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/client"
)

// outMsg is the page's `msg` object as encoding/json writes it: appendMsg
// must produce the same JSON value.
type outMsg struct {
	Kind string  `json:"kind"`
	From *string `json:"from"`
	Room *string `json:"room"`
	Text string  `json:"text"`
	Via  string  `json:"via"`
	ID   *string `json:"id"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// sameJSON reports whether a and b decode to the same value.
func sameJSON(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

func TestAppendMsg(t *testing.T) {
	for _, c := range []struct{ kind, from, room, text, via, id string }{
		{"dm", "alice", "", "hello", "http://127.0.0.1:3001", "n1-42"},
		{"pub", "", "", `quote " and \ back`, "local", ""},
		{"room", "zoë", "lobby\n", "<b>&</b> \u2028 日本", "local", ""},
	} {
		text, _ := json.Marshal(c.text)
		got := appendMsg(nil, c.kind, c.from, c.room, text, c.via, c.id)
		want, _ := json.Marshal(outMsg{Kind: c.kind, From: nullable(c.from), Room: nullable(c.room), Text: c.text, Via: c.via, ID: nullable(c.id)})
		if !sameJSON(t, got, want) {
			t.Errorf("appendMsg %+v:\n got %s\nwant %s", c, got, want)
		}
	}
	r := client.SendResult{ID: "m1", Delivered: []string{"bob"}, Unknown: []string{"gh\"ost"}}
	got := appendSent(nil, r)
	want, _ := json.Marshal(map[string]any{"ok": true, "id": "m1", "delivered": []string{"bob"}, "held": []string{}, "unknown": []string{"gh\"ost"}})
	if !sameJSON(t, got, want) {
		t.Errorf("appendSent:\n got %s\nwant %s", got, want)
	}
}

// parseTextJSON is parseText's reference: encoding/json only.
func parseTextJSON(a []byte) (textArg, bool) {
	var t textArg
	if json.Unmarshal(a, &t) != nil || t.Text == nil || !validText(*t.Text) {
		return t, false
	}
	return t, true
}

// validNameJSON is validName's reference: encoding/json only.
func validNameJSON(raw []byte) string {
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "\x00invalid"
	}
	return s
}

// FuzzParseText: the hand-written parsers agree with encoding/json on the
// text, the recipient and the room of every argument, and the text token
// they pass on decodes to the text.
func FuzzParseText(f *testing.F) {
	for _, s := range []string{
		`{"to":"bob","text":"hi"}`, `{"room":"lobby","text":"a|1|2"}`, `{"text":""}`, `{}`,
		`{"to":"bob","text":"hi","x":1}`, `{"to":"b\"ob","text":"h\u00e9"}`, `{"text":"a","text":"b"}`,
		` { "to" : "bob" , "text" : "hi" } `, `{"to":5,"text":"x"}`, `{"text":"\xff"}`, `{"text":"a` + "\x01" + `"}`,
		`"just a string"`, `null`, `{"to":"bob","text":"hi"} x`, `{"to":"bob",}`, `{"text":"zoë 日本"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, a []byte) {
		got, ok := parseText(a)
		want, wantOK := parseTextJSON(a)
		if ok != wantOK {
			t.Fatalf("%q: ok %v, encoding/json %v", a, ok, wantOK)
		}
		if !ok {
			return
		}
		if *got.Text != *want.Text || validName(got.To) != validName(want.To) || validName(got.Room) != validName(want.Room) {
			t.Fatalf("%q: got %+v want %+v", a, got, want)
		}
		var s string
		if err := json.Unmarshal(got.textJSON, &s); err != nil || s != *got.Text {
			t.Fatalf("%q: text token %s (%v) for %q", a, got.textJSON, err, *got.Text)
		}
		if tok, ok := textToken(textData(got)); !ok || string(tok) != string(got.textJSON) {
			t.Fatalf("%q: textToken of textData: %s %v", a, tok, ok)
		}
	})
}

// FuzzValidName: the fast path of validName accepts exactly what the
// encoding/json path accepts, with the same result.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{`"bob"`, `" bob "`, `"b\"ob"`, `""`, `5`, `"\u0001"`, `"zoë"`, "\"a\xffb\"", ` "x" `} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		s, ok := plainString(raw)
		if !ok {
			return
		}
		if ref := validNameJSON(raw); ref != s {
			t.Fatalf("%q: plainString %q, encoding/json %q", raw, s, ref)
		}
	})
}

// FuzzTextToken: a token textToken returns is a JSON string, and it finds
// one exactly when the payload is an object with the single key "text"
// holding a string.
func FuzzTextToken(f *testing.F) {
	for _, s := range []string{`{"text":"hi"}`, `{"text":"a\"b"}`, `{"text":5}`, `{"text":"a","x":1}`, `"hi"`, ` { "text" : "x" } `, `{"te\u0078t":"x"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, ok := textToken(data)
		var m map[string]json.RawMessage
		var ref string
		refOK := json.Unmarshal(data, &m) == nil && len(m) == 1 && m["text"] != nil && json.Unmarshal(m["text"], &ref) == nil
		if ok && !refOK {
			t.Fatalf("%q: token %s but encoding/json disagrees", data, tok)
		}
		if ok {
			var s string
			if err := json.Unmarshal(tok, &s); err != nil || s != ref || !utf8.ValidString(s) {
				t.Fatalf("%q: token %s: %q %v, want %q", data, tok, s, err, ref)
			}
		}
	})
}

// BenchmarkParseText parses a dm's argument: the hand-written path, and
// encoding/json (what the chat did before) for comparison.
func BenchmarkParseText(b *testing.B) {
	a := []byte(`{"to":"u123","text":"u45|123456|987654321012345"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if t, ok := parseText(a); !ok || validName(t.To) == "" {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if t, ok := parseTextJSON(a); !ok || validNameJSON(t.To) == "" {
				b.Fatal("refused")
			}
		}
	})
}

// BenchmarkRelay turns a routed chat line into the page's msg object:
// relaying the text token, and decoding and re-encoding it with
// encoding/json (what the chat did before).
func BenchmarkRelay(b *testing.B) {
	data := json.RawMessage(`{"text":"u45|123456|987654321012345"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tok, ok := textToken(data)
			if !ok {
				b.Fatal("refused")
			}
			_ = appendMsg(make([]byte, 0, 128), "dm", "u45", "", tok, "http://127.0.0.1:8321", "n1-42")
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d struct {
				Text *string `json:"text"`
			}
			if json.Unmarshal(data, &d) != nil || d.Text == nil {
				b.Fatal("refused")
			}
			from := "u45"
			if _, err := json.Marshal(outMsg{Kind: "dm", From: &from, Text: *d.Text, Via: "http://127.0.0.1:8321"}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestTextTokenEscapes: a token is relayed verbatim inside the page's JSON,
// so one with an escape JSON does not define must be refused, not passed on.
func TestTextTokenEscapes(t *testing.T) {
	for in, want := range map[string]bool{
		`{"text":"a\"b\\c\/d\b\f\n\r\t"}`: true,
		`{"text":"\u00e9\uD83D\uDE00"}`:   true,
		`{"text":"00\00"}`:                false, // found by FuzzTextToken
		`{"text":"\x41"}`:                 false,
		`{"text":"\u12"}`:                 false,
		`{"text":"\u12g4"}`:               false,
		`{"text":"\`:                      false,
		`{"text":"\u00`:                   false,
	} {
		_, got := textToken([]byte(in))
		if got != want {
			t.Errorf("textToken(%s) ok = %v, want %v", in, got, want)
		}
		if got != (json.Valid([]byte(in))) {
			t.Errorf("textToken(%s) ok = %v, but json.Valid says %v", in, got, !got)
		}
	}
}
