package control_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
)

// batchResult is the ack of a batched `message`.
type batchResult struct {
	OK      bool     `json:"ok"`
	Code    string   `json:"code"`
	Results []result `json:"results"`
}

func (p *peer) batch(tb testing.TB, items ...string) batchResult {
	tb.Helper()
	a := p.call(tb, "message", "["+strings.Join(items, ",")+"]")
	var r batchResult
	if len(a) != 1 || json.Unmarshal(a[0], &r) != nil {
		tb.Fatalf("batch ack %s", a)
	}
	return r
}

// TestBatchIn: a `message` array is routed item by item, in order, with
// each item's own answer at its index; a bad item fails alone.
func TestBatchIn(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a, b := senderAndHolder(t, h, `["bob","bea"]`)

	r := a.batch(t,
		`{"to":"bob","from":"al","data":1}`,
		`{"to":"ghost","data":2}`,
		`{"to":"bea","from":"bad\u0001name","data":3}`,
		`{"to":5,"data":4}`,
		`{"to":["bea","bob"],"data":5}`,
	)
	if !r.OK || len(r.Results) != 5 {
		t.Fatalf("batch ack %+v", r)
	}
	want := []string{"ok delivered [bob]", "ok unknown [ghost]", "INVALID_NAME", "BAD_REQUEST", "ok delivered [bea bob]"}
	for i, x := range r.Results {
		got := x.Code
		switch {
		case x.OK && len(x.Delivered) > 0:
			got = fmt.Sprintf("ok delivered %v", x.Delivered)
		case x.OK:
			got = fmt.Sprintf("ok unknown %v", x.Unknown)
		}
		if got != want[i] {
			t.Fatalf("item %d: %s, want %s (%+v)", i, got, want[i], x)
		}
		if x.OK && x.ID == "" {
			t.Fatalf("item %d has no id", i)
		}
	}
	if st := h.Ch.Stats(); st.BatchesIn != 1 || st.BatchItemsIn != 5 || st.BatchesOut != 0 {
		t.Fatalf("stats %+v", st)
	}
	// b did not opt in to batches: it gets plain messages, in order.
	for _, data := range []string{"1", "5"} {
		if d := b.next(t); string(d.Data) != data {
			t.Fatalf("delivered %+v, want data %s", d, data)
		}
	}
	b.none(t)
}

// TestBatchInWithoutAck: without an ack each failed item is an `error`
// event naming its index; the others are routed.
func TestBatchInWithoutAck(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a, b := senderAndHolder(t, h, quote("bob"))
	if err := a.S.Emit("message", sio.Args(json.RawMessage(`[{"to":"bob","data":1},{"to":[],"data":2},{"to":"bob","data":3}]`))); err != nil {
		t.Fatal(err)
	}
	f := a.nextError(t)
	if f.Code != "BAD_REQUEST" || f.Event != "message" || f.Index == nil || *f.Index != 1 {
		t.Fatalf("error event %+v", f)
	}
	for _, data := range []string{"1", "3"} {
		if d := b.next(t); string(d.Data) != data {
			t.Fatalf("delivered %+v, want data %s", d, data)
		}
	}
}

// TestBatchInRefused: whole-batch problems get one failure and route nothing.
func TestBatchInRefused(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a, b := senderAndHolder(t, h, quote("bob"))
	many := make([]string, control.MaxBatch+1)
	for i := range many {
		many[i] = `{"to":"bob","data":0}`
	}
	for _, c := range []struct{ arg, code string }{
		{`[]`, "BAD_REQUEST"},
		{"[" + strings.Join(many, ",") + "]", "TOO_LARGE"},
	} {
		if r := a.res(t, "message", c.arg); r.OK || r.Code != c.code {
			t.Fatalf("batch of %d bytes: %+v, want %s", len(c.arg), r, c.code)
		}
	}
	// Binary data travels alone.
	m := sio.Message{Args: []json.RawMessage{json.RawMessage(`[{"to":"bob","data":{"_placeholder":true,"num":0}}]`)}, Attachments: [][]byte{{1, 2}}}
	ctx, cancel := testCtx()
	defer cancel()
	ack, err := a.S.EmitWithAck(ctx, "message", m)
	if err != nil {
		t.Fatal(err)
	}
	var r result
	if json.Unmarshal(ack.Args[0], &r) != nil || r.OK || r.Code != "BAD_REQUEST" {
		t.Fatalf("binary batch: %s", ack.Args[0])
	}
	b.none(t)
}

// TestBatchOut: a backend that announced batch:true gets the direct
// messages one routed burst has for it as one `message` array, in order,
// and confirms them with one ack; {missing} at an item's index re-routes
// that item alone.
func TestBatchOut(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b, msgs := batchPeer(t, h, "http://127.0.0.1:3002", `{"ack":true,"batch":true}`)
	b.res(t, "join_subs", `["bob","bea"]`)
	c := dialPeer(t, h, "")
	c.register(t, "http://127.0.0.1:3003")

	r := a.batch(t, `{"to":"bob","data":1}`, `{"to":"bea","data":2}`, `{"data":"pub"}`, `{"to":"bob","data":3}`)
	if !r.OK || len(r.Results) != 4 {
		t.Fatalf("batch ack %+v", r)
	}
	// Items 0-1 as one array, the public item alone (in its place), item 3 alone.
	first := recv(t, msgs, "the first array")
	var ds []delivery
	if err := json.Unmarshal(first.arg, &ds); err != nil || len(ds) != 2 || string(ds[0].Data) != "1" || string(ds[1].Data) != "2" {
		t.Fatalf("first delivery %s", first.arg)
	}
	if pub := recv(t, msgs, "the public message"); !strings.Contains(string(pub.arg), `"pub"`) || pub.ack != nil {
		t.Fatalf("public delivery %s (ack %v)", pub.arg, pub.ack != nil)
	}
	third := recv(t, msgs, "the last direct message")
	if !strings.HasPrefix(string(third.arg), "{") || !strings.Contains(string(third.arg), `"data":3`) {
		t.Fatalf("third delivery %s", third.arg)
	}
	if err := third.ack(sio.Message{}); err != nil {
		t.Fatal(err)
	}
	if d := c.next(t); string(d.Data) != `"pub"` {
		t.Fatalf("public at c: %+v", d)
	}
	// bea moves to c before b confirms the array; b reports her missing.
	b.res(t, "leave_subs", quote("bea"))
	c.res(t, "join_subs", quote("bea"))
	if err := first.ack(sio.Args(json.RawMessage(`[null,{"missing":["bea"]}]`))); err != nil {
		t.Fatal(err)
	}
	if d := c.next(t); string(d.Data) != "2" || fmt.Sprint(d.To) != "[bea]" {
		t.Fatalf("re-routed %+v", d)
	}
	c.none(t)
	// Everything b confirmed stays confirmed: when b dies, bob's mailbox
	// gets nothing back.
	_ = b.C.Close()
	h.waitOrphaned(t, "bob")
	c.res(t, "join_subs", quote("bob"))
	c.none(t)
}

func testCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 10*time.Second)
}

// batchPeer connects a backend that announces addr with opts and records
// every `message` event with its ack (nil when none was asked).
func batchPeer(tb testing.TB, h *hub, addr, opts string) (*peer, chan batchGot) {
	tb.Helper()
	got := make(chan batchGot, 64)
	p := newPeer(tb, h, "")
	p.S.On("message", func(m sio.Message, ack sio.Ack) { got <- batchGot{m.Args[0], ack} })
	ctx, cancel := testCtx()
	defer cancel()
	if err := p.C.Connect(ctx); err != nil {
		tb.Fatal(err)
	}
	if r := p.res(tb, "address", quote(addr), opts); !r.OK {
		tb.Fatalf("address %s: %+v", addr, r)
	}
	return p, got
}

type batchGot struct {
	arg json.RawMessage
	ack sio.Ack
}

// TestBatchOutWithoutAcks: a backend with batch:true but no ack:true gets
// arrays without an ack request.
func TestBatchOutWithoutAcks(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b, got := batchPeer(t, h, "http://127.0.0.1:3002", `{"batch":true}`)
	b.res(t, "join_subs", `["bob","bea"]`)
	a.batch(t, `{"to":"bob","data":1}`, `{"to":"bea","data":2}`, `{"to":"bob","data":3}`)
	g := recv(t, got, "the array")
	var ds []delivery
	if err := json.Unmarshal(g.arg, &ds); err != nil || len(ds) != 3 || g.ack != nil {
		t.Fatalf("delivery %s (ack asked: %v)", g.arg, g.ack != nil)
	}
	for i, d := range ds {
		if string(d.Data) != fmt.Sprint(i+1) {
			t.Fatalf("item %d: %+v", i, d)
		}
	}
	if st := h.Ch.Stats(); st.BatchesOut != 1 || st.BatchItemsOut != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestBatchPaced: the ack of a batch routed to a receiver that is past half
// of MaxUnconfirmed is held until the receiver confirms its way back to a
// quarter, as for single messages.
func TestBatchPaced(t *testing.T) {
	h := newHub(t, control.Config{MaxUnconfirmed: 8}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b, got := batchPeer(t, h, "http://127.0.0.1:3002", `{"ack":true,"batch":true}`)
	b.res(t, "join_subs", quote("bob"))

	answered := make(chan int, 4)
	send := func(k int, items string) {
		if err := a.S.EmitWithAckFunc("message", sio.Args(json.RawMessage(items)), 10*time.Second, func(_ sio.Message, err error) {
			if err == nil {
				answered <- k
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	send(0, `[{"to":"bob","data":0},{"to":"bob","data":1},{"to":"bob","data":2}]`)
	first := recv(t, got, "the first array")
	if got := recv(t, answered, "the first batch's ack"); got != 0 {
		t.Fatalf("ack for batch %d", got)
	}
	send(1, `[{"to":"bob","data":3},{"to":"bob","data":4}]`) // five unconfirmed: over 8/2
	second := recv(t, got, "the second array")
	b.res(t, "join_room", quote("sync")) // a round trip through the hub
	select {
	case k := <-answered:
		t.Fatalf("batch %d answered while the receiver is over its mark", k)
	default:
	}
	if err := first.ack(sio.Message{}); err != nil { // down to two (8/4): released
		t.Fatal(err)
	}
	if got := recv(t, answered, "the held ack"); got != 1 {
		t.Fatalf("released ack for batch %d", got)
	}
	if err := second.ack(sio.Message{}); err != nil {
		t.Fatal(err)
	}
}

// TestDeliveriesFitOnePacket: what the hub sends a backend always fits the
// payload limit backends read with (the channel's own, 1e6 bytes here, as
// the Go SDK's). A batch that fits when sent grows with each item's
// envelope (id, backend, from, room); its deliveries go out in as many
// arrays as that takes, and all arrive. A single message whose delivery
// could not fit is refused with TOO_LARGE instead of being reported
// delivered and then closing the receiver's connection.
func TestDeliveriesFitOnePacket(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b, msgs := batchPeer(t, h, "http://127.0.0.1:3002", `{"batch":true}`)
	b.res(t, "join_subs", quote("bob"))

	data := quote(strings.Repeat("x", 900))
	items := make([]string, control.MaxBatch)
	for i := range items {
		items[i] = `{"to":"bob","data":` + data + `}`
	}
	if r := a.batch(t, items...); !r.OK || len(r.Results) != len(items) {
		t.Fatalf("batch ack ok=%v with %d results", r.OK, len(r.Results))
	}
	got, arrays := 0, 0
	for got < len(items) {
		m := recv(t, msgs, fmt.Sprintf("deliveries (%d of %d so far)", got, len(items)))
		var ds []delivery
		if err := json.Unmarshal(m.arg, &ds); err != nil {
			t.Fatalf("delivery %.80s: %v", m.arg, err)
		}
		got, arrays = got+len(ds), arrays+1
	}
	if arrays < 2 {
		t.Fatalf("%d items in %d array: the hub sent more than one packet may hold", got, arrays)
	}
	select {
	case reason := <-b.Disc:
		t.Fatalf("receiver disconnected: %s", reason)
	default:
	}

	large := `{"to":"bob","data":` + quote(strings.Repeat("y", 999_000)) + `}`
	if r := a.res(t, "message", large); !r.OK {
		t.Fatalf("a large message that fits: %+v", r)
	}
	if m := recv(t, msgs, "the large message"); len(m.arg) < 999_000 {
		t.Fatalf("large message delivered as %d bytes", len(m.arg))
	}
	// Sent, this one fits the limit; delivered, it would not.
	big := `{"to":"bob","data":` + quote(strings.Repeat("z", 999_900)) + `}`
	if r := a.res(t, "message", big); r.OK || r.Code != "TOO_LARGE" {
		t.Fatalf("a message too large to deliver: %+v", r)
	}
	select {
	case m := <-msgs:
		t.Fatalf("delivered anyway: %.80s", m.arg)
	case reason := <-b.Disc:
		t.Fatalf("receiver disconnected: %s", reason)
	case <-time.After(200 * time.Millisecond):
	}
}
