package client

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
)

// hubEncoding is a `message` event as the hub encodes it.
const hubEncoding = `{"id":"8f3a-12","from":"alice","backend":"http://127.0.0.1:3001","to":["bob"],"room":null,"data":{"text":"hello, bob"}}`

func TestDecodeMessage(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Message
	}{
		{"direct", hubEncoding, Message{ID: "8f3a-12", From: "alice", Backend: "http://127.0.0.1:3001",
			To: []string{"bob"}, Data: raw(`{"text":"hello, bob"}`)}},
		{"room, null from", `{"id":"1","from":null,"backend":"b","to":null,"room":"lobby","data":[1,"]",{"a":"}"}]}`,
			Message{ID: "1", Backend: "b", Room: "lobby", Data: raw(`[1,"]",{"a":"}"}]`)}},
		{"public scalar", ` { "id" : "2" , "data" : 12.5e3 } `, Message{ID: "2", Data: raw(`12.5e3`)}},
		{"escapes (slow path)", `{"id":"3","from":"a\"b","data":"x\\y"}`, Message{ID: "3", From: `a"b`, Data: raw(`"x\\y"`)}},
		{"no data", `{"id":"4"}`, Message{ID: "4", Data: raw(`null`)}},
		{"unknown key (slow path)", `{"id":"5","extra":[1],"data":true}`, Message{ID: "5", Data: raw(`true`)}},
		{"utf-8", `{"id":"6","to":["zoë","名前"],"data":"✓"}`, Message{ID: "6", To: []string{"zoë", "名前"}, Data: raw(`"✓"`)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := decodeMessage([]byte(tt.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v\nwant %#v", got, tt.want)
			}
		})
	}
	for _, bad := range []string{``, `[]`, `{"id":1}`, `{"id":"x","data":}`, `{"id":"x"`, `{"to":"x"}`} {
		if _, err := decodeMessage([]byte(bad)); err == nil {
			t.Errorf("%q decoded", bad)
		}
	}
}

func TestEncodeOutgoing(t *testing.T) {
	m, err := encodeOutgoing(&Outgoing{To: []string{"a", `q"<`}, From: "me", Data: map[string]int{"n": 1}})
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		To   []string        `json:"to"`
		From string          `json:"from"`
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(m.Args[0], &w); err != nil || !slices.Equal(w.To, []string{"a", `q"<`}) ||
		w.From != "me" || string(w.Data) != `{"n":1}` {
		t.Fatalf("%s: %+v %v", m.Args[0], w, err)
	}
	m, _ = encodeOutgoing(&Outgoing{Room: "r", Data: []byte("bin")})
	if string(m.Args[0]) != `{"room":"r","data":{"_placeholder":true,"num":0}}` || len(m.Attachments) != 1 {
		t.Fatalf("binary: %s %q", m.Args[0], m.Attachments)
	}
	if _, err := encodeOutgoing(&Outgoing{Data: make(chan int)}); err == nil {
		t.Fatal("unencodable data accepted")
	}
}

// FuzzDecodeMessage: the fast path agrees with encoding/json whenever it
// accepts an input, and nothing panics.
func FuzzDecodeMessage(f *testing.F) {
	for _, s := range []string{hubEncoding,
		`{"id":"1","from":null,"backend":"b","to":null,"room":"lobby","data":[1,"]",{"a":"}"}]}`,
		`{"id":"2","data":12}`, `{"id":"3","from":"a\"b","data":"x\\y"}`, `{}`, `{"data":{"_placeholder":true,"num":0}}`,
		`{"id":"6","to":["zoë"],"data":"✓"}`, `{"id":"7","to":[],"data":nul}`, `{"id":"8","data":"unterminated}`,
		`{"id":"9","from":"","backend":null,"to":["a","b","c","d","e",""],"room":"r","data":{}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var fast Message
		ok := decodeFast(b, &fast)
		got, err := decodeMessage(b)
		if !ok {
			return
		}
		var w wireMessage
		if jerr := json.Unmarshal(b, &w); jerr != nil {
			t.Fatalf("fast path accepted %q, encoding/json: %v", b, jerr)
		}
		if err != nil {
			t.Fatalf("decodeMessage(%q): %v", b, err)
		}
		slow := Message{ID: w.ID, Backend: w.Backend, To: w.To, Data: w.Data}
		if w.From != nil {
			slow.From = *w.From
		}
		if w.Room != nil {
			slow.Room = *w.Room
		}
		if slow.Data == nil {
			slow.Data = raw("null")
		}
		if !reflect.DeepEqual(got, slow) {
			t.Fatalf("%q:\nfast %#v\nslow %#v", b, got, slow)
		}
	})
}

func TestDecodeSendResult(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want SendResult
		err  error
	}{
		{"hub", `{"ok":true,"id":"a-1","delivered":["bob"],"held":[],"unknown":["x","y"]}`,
			SendResult{ID: "a-1", Delivered: []string{"bob"}, Held: []string{}, Unknown: []string{"x", "y"}}, nil},
		{"dropped", `{"ok":true,"id":"a-2","delivered":[],"held":["h"],"unknown":[],"dropped":["h"]}`,
			SendResult{ID: "a-2", Delivered: []string{}, Held: []string{"h"}, Unknown: []string{}, Dropped: []string{"h"}}, nil},
		{"failure", `{"ok":false,"code":"INVALID_NAME","message":"bad"}`, SendResult{}, ErrInvalidName},
		{"escaped (slow path)", `{"ok":true,"id":"a\u002d3","delivered":null}`, SendResult{ID: "a-3"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeSendResult([]byte(tt.in))
			if !errors.Is(err, tt.err) || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %#v, %v; want %#v, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

// FuzzDecodeSendResult: the fast path agrees with encoding/json.
func FuzzDecodeSendResult(f *testing.F) {
	for _, s := range []string{`{"ok":true,"id":"a-1","delivered":["bob"],"held":[],"unknown":["x"]}`,
		`{"ok":true,"id":"a-2","delivered":[],"held":["h"],"unknown":[],"dropped":["h"]}`,
		`{"ok":false,"code":"X","message":"m"}`, `{"ok":true}`, `{"ok":true,"ok":true}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeSendResultFast(b)
		if !ok {
			_, _ = decodeSendResult(b)
			return
		}
		var w struct {
			OK        bool     `json:"ok"`
			ID        string   `json:"id"`
			Delivered []string `json:"delivered"`
			Held      []string `json:"held"`
			Unknown   []string `json:"unknown"`
			Dropped   []string `json:"dropped"`
		}
		if err := json.Unmarshal(b, &w); err != nil || !w.OK {
			t.Fatalf("fast path accepted %q; encoding/json: %v ok=%v", b, err, w.OK)
		}
		slow := SendResult{ID: w.ID, Delivered: w.Delivered, Held: w.Held, Unknown: w.Unknown, Dropped: w.Dropped}
		if !reflect.DeepEqual(fast, slow) {
			t.Fatalf("%q:\nfast %#v\nslow %#v", b, fast, slow)
		}
	})
}
