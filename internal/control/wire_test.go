package control

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
)

// slowParse is parseMessage's encoding/json path, the reference for the
// fast decoder.
func slowParse(b []byte) (router.Message, *Failure) {
	msg, f := parseWireSlow(b)
	if f == nil && len(msg.Data) == 0 {
		msg.Data = json.RawMessage("null")
	}
	return msg, f
}

var wireSeeds = []string{
	`{"to":"bob","data":{"text":"hi"}}`, `{"to":["a","b"],"from":"c","data":[1,2]}`,
	`{"room":"lobby","data":"x"}`, `{"data":null}`, `{"to":5}`, `{"to":[]}`, `{"room":""}`,
	`{"To":"bob","data":1}`, `{"to":"a","to":"b"}`, `{"to":"b\u00e9"}`, `{"to":"\u0062"}`,
	` { "to" : [ "x" , "y" ] , "data" : { "a" : [ 1 , 2 ] } , "extra" : true } `,
	`{"to":"a","data":1}x`, `{"to":"a",}`, `{"to":null,"room":null,"from":null}`, `{}`,
	`{"data":"<&>"}`, `{"to":["a",1]}`, `{"room":5}`, `{"from":"\ud800"}`, "{\"to\":\"\xff\"}",
	`{"to":"é","from":"ü","data":"ß"}`, `{"data":{"_placeholder":true,"num":0}}`, `[1]`, `"x"`,
	`{"to":"a","data":[1,2}`, `{"x":{"to":"a"},"to":"b"}`,
}

// FuzzWireFast checks that the hand-written decoder of `message` agrees
// with encoding/json on every input it accepts (and that parseMessage as a
// whole does too).
func FuzzWireFast(f *testing.F) {
	for _, s := range wireSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		want, wf := slowParse(b)
		got, gf := parseMessage("message", sio.Message{Args: []json.RawMessage{b}}, false)
		if (wf == nil) != (gf == nil) {
			t.Fatalf("%q: fast failure %v, encoding/json failure %v", b, gf, wf)
		}
		if wf != nil {
			return
		}
		got.Attachments = nil
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: fast %+v, encoding/json %+v", b, got, want)
		}
	})
}

func TestRouteReplyMatchesEncodingJSON(t *testing.T) {
	for _, res := range []router.Result{
		{ID: "m-1"},
		{ID: "m-2", Delivered: []string{"a", "b<&>"}, Held: []string{"é"}, Unknown: []string{"\x01"}, Dropped: []string{"z"}},
		{ID: "m-3", Delivered: []string{}, Dropped: nil},
	} {
		want, _ := json.Marshal(struct {
			OK        bool     `json:"ok"`
			ID        string   `json:"id"`
			Delivered []string `json:"delivered"`
			Held      []string `json:"held"`
			Unknown   []string `json:"unknown"`
			Dropped   []string `json:"dropped,omitempty"`
		}{true, res.ID, nonNil(res.Delivered), nonNil(res.Held), nonNil(res.Unknown), res.Dropped})
		if got := routeReply(res); string(got) != string(want) {
			t.Errorf("routeReply = %s, want %s", got, want)
		}
	}
}

func TestDeliveryJSONIsValid(t *testing.T) {
	d := &router.Delivery{ID: "m-1", From: "a<b", Backend: "http://127.0.0.1:1", To: []string{"x", "ü"}, Data: json.RawMessage(`{"k":1}`)}
	var v struct {
		ID, From, Backend string
		To                []string
		Room              *string
		Data              json.RawMessage
	}
	if err := json.Unmarshal(deliveryJSON(d), &v); err != nil {
		t.Fatal(err)
	}
	if v.ID != d.ID || v.From != d.From || v.Backend != d.Backend || !reflect.DeepEqual(v.To, d.To) || v.Room != nil || string(v.Data) != `{"k":1}` {
		t.Fatalf("round trip: %+v", v)
	}
}

func BenchmarkParseMessage(b *testing.B) {
	m := sio.Message{Args: []json.RawMessage{json.RawMessage(`{"to":"user-123","from":"user-7","data":{"text":"hello there, a chat message","t":1732700000000}}`)}}
	b.ReportAllocs()
	for b.Loop() {
		if _, f := parseMessage("message", m, false); f != nil {
			b.Fatal(f)
		}
	}
}

func BenchmarkRouteReply(b *testing.B) {
	res := router.Result{ID: "m-123456", Delivered: []string{"user-123"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = routeReply(res)
	}
}

// TestUnconfirmed: in-order and out-of-order acks, the bounds, the pacing
// marks, and take's order (oldest first, acked ones left out).
func TestUnconfirmed(t *testing.T) {
	var u unconfirmed
	ds := make([]*router.Delivery, 10)
	for i := range ds {
		ds[i] = &router.Delivery{ID: string(rune('a' + i)), Data: json.RawMessage(`1`)}
		want := addOK
		if i >= 5 { // over half of 10
			want = addHigh
		}
		if r := u.add(ds[i], 10, 100); r != want {
			t.Fatalf("add %d: %v, want %v", i, r, want)
		}
	}
	if r := u.add(&router.Delivery{}, 10, 100); r != addFull {
		t.Fatalf("add past the count bound: %v", r)
	}
	released := 0
	if !u.wait(func() { released++ }) {
		t.Fatal("wait over the low mark ran at once")
	}
	for _, i := range []int{0, 1, 5, 2} {
		if !u.remove(ds[i]) {
			t.Fatalf("remove %d: not found", i)
		}
	}
	if u.remove(ds[5]) {
		t.Fatal("removed twice")
	}
	if released != 0 { // six left, low mark 10/4 = 2
		t.Fatalf("released at six unconfirmed")
	}
	for i := 0; i < 50; i++ { // the front's space is reused, the order kept
		d := &router.Delivery{ID: "x", Data: json.RawMessage(`1`)}
		if r := u.add(d, 10, 100); r != addHigh { // seven of ten
			t.Fatalf("refill %d: %v", i, r)
		}
		if !u.remove(d) {
			t.Fatal("refill remove")
		}
	}
	got := u.take()
	if released != 1 {
		t.Fatalf("take released the waiter %d times, want once", released)
	}
	if u.wait(func() {}) {
		t.Fatal("wait queued on a closed set")
	}
	var ids []string
	for _, d := range got {
		ids = append(ids, d.ID)
	}
	if want := []string{"d", "e", "g", "h", "i", "j"}; !reflect.DeepEqual(ids, want) {
		t.Fatalf("take = %v, want %v", ids, want)
	}
	if r := u.add(ds[0], 10, 100); r != addClosed {
		t.Fatalf("add after take: %v", r)
	}
}

func BenchmarkUnconfirmedInOrder(b *testing.B) {
	var u unconfirmed
	ring := make([]*router.Delivery, 1000)
	for i := range ring {
		ring[i] = &router.Delivery{Data: json.RawMessage(`1`)}
		u.add(ring[i], 1<<20, 1<<40)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		u.remove(ring[i])
		u.add(ring[i], 1<<20, 1<<40)
		i = (i + 1) % len(ring)
	}
}
