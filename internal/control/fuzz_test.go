package control

import (
	"encoding/json"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// FuzzEventArgs feeds arbitrary argument lists to the channel's payload
// decoders: they return a value or a Failure with a code, never panic, and
// what they accept keeps data byte for byte.
func FuzzEventArgs(f *testing.F) {
	for _, seed := range []string{
		`["alice"]`, `[["a","b"]]`, `[""]`, `[42]`, `[{"name":"x"}]`, `[]`, `[null]`,
		`[{"to":"bob","data":{"text":"hi"}}]`, `[{"to":["a","b"],"from":"c","data":[1,2]}]`,
		`[{"room":"lobby","data":"x"}]`, `[{"data":null}]`, `[{"to":5}]`, `[{"to":[]}]`,
		`[{"room":""}]`, `["not an object"]`, `[{"channel":"*","data":1}]`, `[{"channel":"lobby"}]`,
		`[{"channel":""}]`, `[{"to":"a","data":{"_placeholder":true,"num":0}}]`,
		`["http://127.0.0.1:3001",{"weight":2,"url":"http://x:1","meta":{"a":1},"ack":true}]`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var args []json.RawMessage
		if json.Unmarshal(raw, &args) != nil {
			return // the codec never hands handlers anything but a JSON array
		}
		m := sio.Message{Args: args}
		if ns, _, err := names(m); err == nil {
			for _, n := range ns {
				_ = n
			}
		}
		for _, bc := range []bool{false, true} {
			msg, f := parseMessage("message", m, bc)
			if f != nil {
				if f.Code == "" || f.Message == "" {
					t.Fatalf("failure without code or message: %+v", f)
				}
				continue
			}
			if !json.Valid(msg.Data) {
				t.Fatalf("accepted invalid data %q", msg.Data)
			}
		}
		if len(args) > 1 {
			var o addressOptions
			_ = json.Unmarshal(args[1], &o)
		}
	})
}
