package codec

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeSIOPacket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want SIOPacket
		n    int
	}{
		{"connect root", `0`, SIOPacket{Type: SIOConnect, Nsp: "/", ID: -1}, 0},
		{"connect auth", `0{"token":"x"}`, SIOPacket{Type: SIOConnect, Nsp: "/", ID: -1, Data: json.RawMessage(`{"token":"x"}`)}, 0},
		{"connect nsp auth", `0/admin,{"token":"x"}`, SIOPacket{Type: SIOConnect, Nsp: "/admin", ID: -1, Data: json.RawMessage(`{"token":"x"}`)}, 0},
		{"connect nsp no comma", `0/admin`, SIOPacket{Type: SIOConnect, Nsp: "/admin", ID: -1}, 0},
		{"connect reply", `0{"sid":"abc"}`, SIOPacket{Type: SIOConnect, Nsp: "/", ID: -1, Data: json.RawMessage(`{"sid":"abc"}`)}, 0},
		{"disconnect", `1`, SIOPacket{Type: SIODisconnect, Nsp: "/", ID: -1}, 0},
		{"disconnect nsp", `1/admin,`, SIOPacket{Type: SIODisconnect, Nsp: "/admin", ID: -1}, 0},
		{"event", `2["hello",1]`, SIOPacket{Type: SIOEvent, Nsp: "/", ID: -1, Data: json.RawMessage(`["hello",1]`)}, 0},
		{"event id nsp", `2/admin,456["project:delete",123]`, SIOPacket{Type: SIOEvent, Nsp: "/admin", ID: 456, Data: json.RawMessage(`["project:delete",123]`)}, 0},
		{"event ws", "2 [\"a\"] \n", SIOPacket{Type: SIOEvent, Nsp: "/", ID: -1, Data: json.RawMessage(`["a"]`)}, 0},
		{"ack", `3/admin,456[]`, SIOPacket{Type: SIOAck, Nsp: "/admin", ID: 456, Data: json.RawMessage(`[]`)}, 0},
		{"ack root", `30["ok"]`, SIOPacket{Type: SIOAck, Nsp: "/", ID: 0, Data: json.RawMessage(`["ok"]`)}, 0},
		{"connect error", `4{"message":"Not authorized"}`, SIOPacket{Type: SIOConnectError, Nsp: "/", ID: -1, Data: json.RawMessage(`{"message":"Not authorized"}`)}, 0},
		{"connect error string", `4/a,"no"`, SIOPacket{Type: SIOConnectError, Nsp: "/a", ID: -1, Data: json.RawMessage(`"no"`)}, 0},
		{"binary event", `51-["hello",{"_placeholder":true,"num":0}]`, SIOPacket{Type: SIOBinaryEvent, Nsp: "/", ID: -1, Data: json.RawMessage(`["hello",{"_placeholder":true,"num":0}]`)}, 1},
		{"binary ack", `61-/admin,456[{"_placeholder":true,"num":0}]`, SIOPacket{Type: SIOBinaryAck, Nsp: "/admin", ID: 456, Data: json.RawMessage(`[{"_placeholder":true,"num":0}]`)}, 1},
		{"slash nsp is root", `2/,["a"]`, SIOPacket{Type: SIOEvent, Nsp: "/", ID: -1, Data: json.RawMessage(`["a"]`)}, 0},
		{"escaped name", `2["a\"b"]`, SIOPacket{Type: SIOEvent, Nsp: "/", ID: -1, Data: json.RawMessage(`["a\"b"]`)}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, n, err := DecodeSIOPacket([]byte(tt.in))
			if err != nil {
				t.Fatalf("decode %q: %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) || n != tt.n {
				t.Fatalf("decode %q = %+v n=%d, want %+v n=%d", tt.in, got, n, tt.want, tt.n)
			}
		})
	}
}

func TestDecodeSIOPacketErrors(t *testing.T) {
	t.Parallel()
	bad := []struct{ name, in string }{
		{"empty", ``},
		{"bad type", `7`},
		{"letter type", `x`},
		{"binary no count", `5["a"]`},
		{"binary no dash", `51["a"]`},
		{"binary huge count", `51234567-["a"]`},
		{"nsp control char", "2/a\x01b,[\"a\"]"},
		{"nsp too long", "2/" + strings.Repeat("a", 300) + `,["a"]`},
		{"event object", `2{"a":1}`},
		{"event empty array", `2[]`},
		{"event number name", `2[1,2]`},
		{"event no payload", `2`},
		{"event reserved", `2["connect"]`},
		{"event reserved escaped", `2["con\u006eect"]`},
		{"event trailing", `2["a"]x`},
		{"event bad json", `2["a",]`},
		{"event two values", `2["a"] ["b"]`},
		{"event ws only", `2   `},
		{"ack object", `31{}`},
		{"ack no id", `3[]`},
		{"ack huge id", `312345678901234567[]`},
		{"ack unsafe id", `39007199254740992[]`},
		{"disconnect payload", `1{}`},
		{"connect array", `0[]`},
		{"connect bad json", `0{"a"}`},
		{"connect with id", `01{}`},
		{"connect error number", `41`},
		{"connect error array", `4[]`},
		{"unterminated string", `2["abc]`},
		{"bad escape", `2["a\x"]`},
		{"raw control", "2[\"a\x01\"]"},
		{"deep nesting", `2["a",` + strings.Repeat("[", 2000) + strings.Repeat("]", 2000) + `]`},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p, _, err := DecodeSIOPacket([]byte(tt.in))
			if err == nil {
				t.Fatalf("decode %q = %+v, want error", tt.in, p)
			}
			if !errors.Is(err, ErrSIOPacket) {
				t.Fatalf("error %v does not wrap ErrSIOPacket", err)
			}
		})
	}
}

func TestSplitEvent(t *testing.T) {
	t.Parallel()
	name, args, err := SplitEvent([]byte(` [ "chat message" , {"a":[1,2,{"b":null}]} ,"x\ny", -1.5e+3 , true ] `), nil)
	if err != nil {
		t.Fatal(err)
	}
	if string(name) != "chat message" {
		t.Fatalf("name %q", name)
	}
	want := []string{`{"a":[1,2,{"b":null}]}`, `"x\ny"`, `-1.5e+3`, `true`}
	if len(args) != len(want) {
		t.Fatalf("args %q", args)
	}
	for i := range want {
		if string(args[i]) != want[i] {
			t.Fatalf("arg %d = %q want %q", i, args[i], want[i])
		}
	}
	name, args, err = SplitEvent([]byte(`["\u00e9v\"t"]`), nil)
	if err != nil || string(name) != `év"t` || len(args) != 0 {
		t.Fatalf("escaped: %q %q %v", name, args, err)
	}
	// Many args exceed the stack buffer.
	many := `["m"` + strings.Repeat(`,1`, 20) + `]`
	if _, args, err = SplitEvent([]byte(many), nil); err != nil || len(args) != 20 {
		t.Fatalf("many: %d %v", len(args), err)
	}
	acks, err := SplitArray([]byte(`[1,"two",[3]]`), nil)
	if err != nil || len(acks) != 3 || string(acks[2]) != `[3]` {
		t.Fatalf("ack: %q %v", acks, err)
	}
	if acks, err = SplitArray([]byte(` [ ] `), nil); err != nil || len(acks) != 0 {
		t.Fatalf("empty ack: %q %v", acks, err)
	}
}

func TestAppendEvent(t *testing.T) {
	t.Parallel()
	b, err := AppendEvent(nil, "/", -1, "hi", []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`{"a":"b"}`)}, 0)
	if err != nil || string(b) != `2["hi",1,{"a":"b"}]` {
		t.Fatalf("%s %v", b, err)
	}
	b, err = AppendEvent(nil, "/chat", 12, "a<\"b\"\n\u2028", nil, 0)
	if err != nil || string(b) != `2/chat,12["a\u003c\"b\"\n\u2028"]` {
		t.Fatalf("%s %v", b, err)
	}
	b, err = AppendEvent(nil, "/", 3, "bin", []json.RawMessage{AppendPlaceholder(nil, 0), AppendPlaceholder(nil, 1)}, 2)
	if err != nil || string(b) != `52-3["bin",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]` {
		t.Fatalf("%s %v", b, err)
	}
	if _, err := AppendEvent(nil, "/", -1, "x", []json.RawMessage{json.RawMessage(`{`)}, 0); err == nil {
		t.Fatal("invalid arg accepted")
	}
	if _, err := AppendEvent(nil, "/", -1, "x", []json.RawMessage{nil}, 0); err == nil {
		t.Fatal("empty arg accepted")
	}
	if _, err := AppendEvent(nil, "/", -1, "disconnect", nil, 0); err == nil {
		t.Fatal("reserved name accepted")
	}
	b, err = AppendAck(nil, "/chat", 7, []json.RawMessage{json.RawMessage(`"ok"`)}, 0)
	if err != nil || string(b) != `3/chat,7["ok"]` {
		t.Fatalf("%s %v", b, err)
	}
	b, err = AppendAck(nil, "/", 0, nil, 0)
	if err != nil || string(b) != `30[]` {
		t.Fatalf("%s %v", b, err)
	}
	// The NoCheck forms write the same bytes, and still check what is not
	// an argument (event name, ack id).
	args := []json.RawMessage{json.RawMessage(`1`), json.RawMessage(`{"a":["b",null]}`)}
	want, _ := AppendEvent(nil, "/x", 5, "hi", args, 0)
	if b, err := AppendEventNoCheck(nil, "/x", 5, "hi", args, 0); err != nil || string(b) != string(want) {
		t.Fatalf("NoCheck event: %s %v, want %s", b, err, want)
	}
	want, _ = AppendAck(nil, "/x", 5, args, 0)
	if b, err := AppendAckNoCheck(nil, "/x", 5, args, 0); err != nil || string(b) != string(want) {
		t.Fatalf("NoCheck ack: %s %v, want %s", b, err, want)
	}
	if _, err := AppendEventNoCheck(nil, "/", -1, "connect", nil, 0); err == nil {
		t.Fatal("NoCheck: reserved name accepted")
	}
	if _, err := AppendAckNoCheck(nil, "/", -1, nil, 0); err == nil {
		t.Fatal("NoCheck: ack without an id accepted")
	}
	if got := string(AppendConnect(nil, "/", json.RawMessage(`{"sid":"x"}`))); got != `0{"sid":"x"}` {
		t.Fatal(got)
	}
	if got := string(AppendConnect(nil, "/a", nil)); got != `0/a,` {
		t.Fatal(got)
	}
	if got := string(AppendConnectError(nil, "/a", "Invalid namespace", nil)); got != `4/a,{"message":"Invalid namespace"}` {
		t.Fatal(got)
	}
	if got := string(AppendConnectError(nil, "/", "no", json.RawMessage(`{"code":1}`))); got != `4{"message":"no","data":{"code":1}}` {
		t.Fatal(got)
	}
	if got := string(AppendDisconnect(nil, "/a")); got != `1/a,` {
		t.Fatal(got)
	}
	if got := string(AppendDisconnect(nil, "/")); got != `1` {
		t.Fatal(got)
	}
	// Every encoding decodes back.
	for _, s := range []string{`0/a,`, `1/a,`, `1`, `4/a,{"message":"Invalid namespace"}`} {
		if _, _, err := DecodeSIOPacket([]byte(s)); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

func TestReassembler(t *testing.T) {
	t.Parallel()
	var r Reassembler
	h, _, done, err := r.Feed([]byte(`52-/x,9["up",{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`), false)
	if err != nil || done || !r.Pending() {
		t.Fatalf("text: %v %v", done, err)
	}
	if _, _, done, err = r.Feed([]byte{1, 2}, true); err != nil || done {
		t.Fatalf("first: %v %v", done, err)
	}
	h, atts, done, err := r.Feed([]byte{3}, true)
	if err != nil || !done || h.NspString() != "/x" || h.ID != 9 || len(atts) != 2 || !bytes.Equal(atts[1], []byte{3}) {
		t.Fatalf("second: %+v %v %v %v", h, atts, done, err)
	}
	if err := CheckSIOPayload(&h); err != nil {
		t.Fatal(err)
	}
	// Plain packets pass straight through.
	if h, _, done, err = r.Feed([]byte(`2["a"]`), false); err != nil || !done || h.Type != SIOEvent {
		t.Fatalf("plain: %v %v", done, err)
	}
	// Protocol errors.
	if _, _, _, err = r.Feed([]byte{1}, true); err == nil {
		t.Fatal("stray binary accepted")
	}
	r.Feed([]byte(`51-["a",{"_placeholder":true,"num":0}]`), false)
	if _, _, _, err = r.Feed([]byte(`2["a"]`), false); err == nil || r.Pending() {
		t.Fatal("text during attachments accepted")
	}
	small := Reassembler{MaxAttachments: 2, MaxBytes: 4}
	if _, _, _, err = small.Feed([]byte(`53-["a"]`), false); !errors.Is(err, ErrSIOTooLarge) {
		t.Fatalf("too many: %v", err)
	}
	small.Feed([]byte(`52-["a"]`), false)
	small.Feed([]byte{1, 2, 3}, true)
	if _, _, _, err = small.Feed([]byte{4, 5}, true); !errors.Is(err, ErrSIOTooLarge) {
		t.Fatalf("too big: %v", err)
	}
}

// placeholderCases are binary packets whose placeholders are (ok) or are
// not valid for their attachments; attachments follow the text.
var placeholderCases = []struct {
	name string
	text string
	ok   bool
}{
	{"one", `51-["a",{"_placeholder":true,"num":0}]`, true},
	{"nested", `52-["a",{"x":[{"_placeholder":true,"num":1}]},{"_placeholder":true,"num":0}]`, true},
	{"ack", `61-/x,3[{"_placeholder":true,"num":0}]`, true},
	{"unused attachment", `52-["a",{"_placeholder":true,"num":1}]`, true},
	{"whitespace", "51-[\"a\", { \"_placeholder\" : true , \"num\" : 0 } ]", true},
	{"not a placeholder: false", `51-["a",{"_placeholder":false,"num":9}]`, true},
	{"not a placeholder: string true", `51-["a",{"_placeholder":"true","num":9}]`, true},
	{"not a placeholder: in a string", `51-["a","{\"_placeholder\":true,\"num\":5}"]`, true},
	{"repeated num, last valid", `51-["a",{"_placeholder":true,"num":9,"num":0}]`, true},
	{"num past attachments", `51-["a",{"_placeholder":true,"num":5}]`, false},
	{"num equal to attachments", `52-["a",{"_placeholder":true,"num":2}]`, false},
	{"negative num", `51-["a",{"_placeholder":true,"num":-1}]`, false},
	{"fraction num", `52-["a",{"_placeholder":true,"num":1.5}]`, false},
	{"string num", `51-["a",{"_placeholder":true,"num":"0"}]`, false},
	{"null num", `51-["a",{"_placeholder":true,"num":null}]`, false},
	{"missing num", `51-["a",{"_placeholder":true}]`, false},
	{"huge num", `51-["a",{"_placeholder":true,"num":99999999999999999999}]`, false},
	{"repeated num, last invalid", `51-["a",{"_placeholder":true,"num":0,"num":5}]`, false},
	{"repeated flag, last true", `51-["a",{"_placeholder":false,"num":5,"_placeholder":true}]`, false},
	{"escaped key", `51-["a",{"\u005fplaceholder":true,"n\u0075m":7}]`, false},
	{"deep", `51-["a",[[{"k":{"_placeholder":true,"num":1}}]]]`, false},
	{"no attachments", `50-["a",{"_placeholder":true,"num":0}]`, false},
	{"ack past attachments", `61-3[{"_placeholder":true,"num":1}]`, false},
}

// TestReassemblerPlaceholders is the regression test for binary packets
// relayed with placeholders that index no attachment
// ({"_placeholder":true,"num":5} with one attachment): npm's
// socket.io-parser throws "illegal attachments" on them, so every stock
// receiver dropped its connection. The Reassembler now refuses them when
// the packet completes, and CheckSIOPayload and DecodeSIOPacket agree.
func TestReassemblerPlaceholders(t *testing.T) {
	t.Parallel()
	for _, tt := range placeholderCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var r Reassembler
			h, _, done, err := r.Feed([]byte(tt.text), false)
			for i := 0; err == nil && !done; i++ {
				h, _, done, err = r.Feed([]byte{byte(i)}, true)
			}
			if tt.ok != (err == nil) {
				t.Fatalf("Feed(%s) = %v, want ok=%v", tt.text, err, tt.ok)
			}
			if err != nil {
				if !errors.Is(err, ErrSIOPacket) || r.Pending() {
					t.Fatalf("error %v (pending %v): want an ErrSIOPacket and a reset", err, r.Pending())
				}
				return
			}
			if err := CheckSIOPayload(&h); err != nil {
				t.Fatalf("CheckSIOPayload: %v", err)
			}
			if _, n, err := DecodeSIOPacket([]byte(tt.text)); err != nil || n != h.Attachments {
				t.Fatalf("DecodeSIOPacket: %d attachments, %v", n, err)
			}
		})
	}
	for _, tt := range placeholderCases {
		if _, _, err := DecodeSIOPacket([]byte(tt.text)); tt.ok != (err == nil) {
			t.Errorf("DecodeSIOPacket(%s) = %v, want ok=%v", tt.text, err, tt.ok)
		}
	}
	// The encoder refuses what the decoder refuses.
	p := SIOPacket{Type: SIOBinaryEvent, Nsp: "/", ID: -1, Data: json.RawMessage(`["a",{"_placeholder":true,"num":1}]`), Attachments: [][]byte{{1}}}
	if _, err := AppendSIOPacket(nil, p); !errors.Is(err, ErrSIOPacket) {
		t.Fatalf("AppendSIOPacket with a bad placeholder: %v", err)
	}
}

// TestValidJSONMatchesStdlib checks the validator against encoding/json on
// a table; FuzzValidJSON extends it.
func TestValidJSONMatchesStdlib(t *testing.T) {
	t.Parallel()
	for _, s := range jsonSeeds {
		if got, want := ValidJSON([]byte(s)), json.Valid([]byte(s)); got != want {
			t.Errorf("ValidJSON(%q) = %v, encoding/json says %v", s, got, want)
		}
	}
}

var jsonSeeds = []string{
	``, ` `, `1`, `-`, `-0`, `01`, `1.`, `1.5`, `1e`, `1e+`, `1E-7`, `-1.5e10`, `"a"`, `"\u12"`, `"\u00e9"`,
	`"\q"`, `"a` + "\x00" + `"`, `[]`, `[1,]`, `[,1]`, `{}`, `{"a":1,}`, `{"a" 1}`, `{1:2}`, `{"a":{"b":[true,false,null]}}`,
	`tru`, `nul`, `[1 2]`, "\t[1]\n", `"\xff"`, `[1]]`, `{"a":1}}`, `  "x"  `,
}

func FuzzValidJSON(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if bytes.Count(b, []byte("[")) > 500 || bytes.Count(b, []byte("{")) > 500 {
			return // beyond our depth limit, stricter than encoding/json by design
		}
		if got, want := ValidJSON(b), json.Valid(b); got != want {
			t.Fatalf("ValidJSON(%q) = %v, encoding/json says %v", b, got, want)
		}
	})
}

var sioSeeds = []string{
	`0`, `0{"token":"abc"}`, `0/admin,{"x":[1,2]}`, `0/admin`, `1`, `1/admin,`, `2["hello"]`, `2["hello",1,"two",{"three":3}]`,
	`2/admin,456["project:delete",123]`, `212["ev",null]`, `3/admin,456[]`, `30["ok"]`, `4{"message":"Not authorized","data":{"a":1}}`,
	`4"string"`, `51-["hello",{"_placeholder":true,"num":0}]`, `62-/a,3[{"_placeholder":true,"num":0},{"_placeholder":true,"num":1}]`,
	`50-["x"]`, `51-["x",{"_placeholder":true,"num":5}]`, `51-["x",{"_placeholder":true,"num":0,"num":-1}]`, `2["a\u00e9\"b"]`, `2["connect"]`, `7`, `5-`, `2/a,b`, `3[]`, `2[1]`, `2{}`, `2["a",]`, "2\x00",
}

// FuzzDecodePacket decodes arbitrary text packets: no panics, and every
// accepted packet re-encodes to bytes that decode to the same packet. The
// input is also fed to a Reassembler split in two: the first half as the
// text message, the second as binary attachments.
func FuzzDecodePacket(f *testing.F) {
	for _, s := range sioSeeds {
		f.Add([]byte(s), uint8(0))
		f.Add([]byte(s), uint8(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, in []byte, cut uint8) {
		p, n, err := DecodeSIOPacket(in)
		if err == nil {
			for range n {
				p.Attachments = append(p.Attachments, []byte{})
			}
			enc, err := AppendSIOPacket(nil, p)
			if err != nil {
				t.Fatalf("decoded %q to %+v which does not encode: %v", in, p, err)
			}
			q, m, err := DecodeSIOPacket(enc)
			if err != nil {
				t.Fatalf("re-encoded %q as %q which does not decode: %v", in, enc, err)
			}
			for range m {
				q.Attachments = append(q.Attachments, []byte{})
			}
			if !reflect.DeepEqual(p, q) {
				t.Fatalf("round trip of %q: %+v != %+v (via %q)", in, p, q, enc)
			}
			if p.Type == SIOEvent || p.Type == SIOBinaryEvent {
				if _, _, err := SplitEvent(p.Data, nil); err != nil {
					t.Fatalf("decoded event %q does not split: %v", in, err)
				}
			}
			if p.Type.IsBinary() && !npmPlaceholdersOK(t, p.Data, n) {
				t.Fatalf("accepted %q, whose placeholders npm's reconstructPacket refuses", in)
			}
		}

		// Two halves through the Reassembler.
		c := int(cut)
		if c > len(in) {
			c = len(in)
		}
		r := Reassembler{MaxAttachments: 4, MaxBytes: 64}
		h, atts, done, ferr := r.Feed(in[:c], false)
		if ferr == nil && !done {
			h, atts, done, ferr = r.Feed(in[c:], true)
		}
		if ferr == nil && done {
			if hp, _, herr := DecodeSIOPacket(in[:c]); herr == nil {
				if CheckSIOPayload(&h) != nil || h.NspString() != hp.Nsp || h.ID != hp.ID {
					t.Fatalf("reassembled header %+v disagrees with decode %+v", h, hp)
				}
			}
			if h.Attachments != len(atts) {
				t.Fatalf("reassembled %d attachments, header declares %d", len(atts), h.Attachments)
			}
		}
	})
}

// npmPlaceholdersOK tells whether socket.io-parser's reconstructPacket
// accepts the placeholders of payload with n attachments: every object
// whose _placeholder is true (as JSON.parse leaves it: the last of repeated
// keys) needs a number num in [0, n); the walk does not enter placeholders.
func npmPlaceholdersOK(tb testing.TB, payload []byte, n int) bool {
	d := json.NewDecoder(bytes.NewReader(payload))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		tb.Fatalf("payload %q does not decode: %v", payload, err)
	}
	var walk func(v any) bool
	walk = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if v["_placeholder"] == true {
				num, ok := v["num"].(json.Number)
				f, err := num.Float64()
				return ok && err == nil && f >= 0 && f < float64(n)
			}
			for _, x := range v {
				if !walk(x) {
					return false
				}
			}
		case []any:
			for _, x := range v {
				if !walk(x) {
					return false
				}
			}
		}
		return true
	}
	return walk(v)
}

func BenchmarkDecodeEvent(b *testing.B) {
	msg := []byte(`2["message",{"to":"user-42","from":"user-7","body":"hello there, how are you?"},17]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		h, err := ParseSIOHeader(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := SplitEvent(h.Payload, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAck(b *testing.B) {
	msg := []byte(`3/list,1234[{"ok":true,"id":"abc"}]`)
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		h, err := ParseSIOHeader(msg)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := SplitArray(h.Payload, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeEvent(b *testing.B) {
	args := []json.RawMessage{json.RawMessage(`{"to":"user-42","from":"user-7","body":"hello there, how are you?"}`), json.RawMessage(`17`)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendEvent(buf[:0], "/", 12, "message", args, 0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeAck(b *testing.B) {
	args := []json.RawMessage{json.RawMessage(`{"ok":true,"id":"abc"}`)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = AppendAck(buf[:0], "/list", 1234, args, 0); err != nil {
			b.Fatal(err)
		}
	}
}
