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
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b := dialPeer(t, h, "")
	b.register(t, "http://127.0.0.1:3002")
	b.res(t, "join_subs", `["bob","bea"]`)

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
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b := dialPeer(t, h, "")
	b.register(t, "http://127.0.0.1:3002")
	b.res(t, "join_subs", quote("bob"))
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
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b := dialPeer(t, h, "")
	b.register(t, "http://127.0.0.1:3002")
	b.res(t, "join_subs", quote("bob"))
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
	type got struct {
		arg json.RawMessage
		ack sio.Ack
	}
	msgs := make(chan got, 16)
	b := newPeer(t, h, "")
	b.S.On("message", func(m sio.Message, ack sio.Ack) { msgs <- got{m.Args[0], ack} })
	ctx, cancel := testCtx()
	defer cancel()
	if err := b.C.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if r := b.res(t, "address", quote("http://127.0.0.1:3002"), `{"ack":true,"batch":true}`); !r.OK {
		t.Fatalf("address: %+v", r)
	}
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
