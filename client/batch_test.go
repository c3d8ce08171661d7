package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/codec"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// fakeHub is a hand-written /list hub for fault injection: it registers
// any address (recording the options) and hands every `message` event to
// the test's handler.
type fakeHub struct {
	URL      string
	srv      *sio.Server
	addrOpts chan json.RawMessage
	sock     atomic.Pointer[sio.Socket]
}

func startFakeHub(tb testing.TB, onMessage func(s *sio.Socket, m sio.Message, ack sio.Ack)) *fakeHub {
	tb.Helper()
	h := &fakeHub{srv: sio.NewServer(sio.Config{}, nil), addrOpts: make(chan json.RawMessage, 16)}
	nsp := h.srv.Of(DefaultNamespace)
	nsp.On("address", func(s *sio.Socket, m sio.Message, ack sio.Ack) {
		opts := raw("null")
		if len(m.Args) > 1 {
			opts = m.Args[1]
		}
		h.addrOpts <- opts
		h.sock.Store(s)
		_ = ack(sio.Args(raw(`{"ok":true,"id":"b-1","address":` + string(m.Args[0]) + `}`)))
	})
	nsp.On("message", onMessage)
	mux := http.NewServeMux()
	mux.Handle(DefaultPath, h.srv)
	mux.Handle(DefaultPath+"/", h.srv)
	ts := httptest.NewServer(mux)
	h.URL = ts.URL
	tb.Cleanup(func() {
		h.srv.Close()
		ts.Close()
	})
	return h
}

// holdWindow makes c's current connection look as if a packet awaited its
// answer, so SendMessageAsync queues; release writes the queue as batches.
func holdWindow(tb testing.TB, c *Client) (release func()) {
	tb.Helper()
	b := batcherOf(c)
	if b == nil {
		tb.Fatal("not connected")
	}
	b.mu.Lock()
	b.inFlight += batchWindow
	b.mu.Unlock()
	return func() {
		for range batchWindow {
			b.answered()
		}
	}
}

// batcherOf returns the batcher of c's current connection (nil between
// connections).
func batcherOf(c *Client) *batcher {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cn == nil {
		return nil
	}
	return c.cn.batch
}

func stateOf(c *Client) batchState {
	b := batcherOf(c)
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.state
}

// sendFrom sends per[g] messages from each of len(per) goroutines (all
// queued behind a held window) and returns once every call returned.
// Message i of goroutine g carries {"g":g,"i":i} and goes to to(g, i);
// each answer goes to answers.
func sendFrom(t *testing.T, c *Client, per []int, to func(g, i int) string, answers chan<- asyncAnswer) {
	t.Helper()
	ctx := tctx(t)
	var wg sync.WaitGroup
	for g, n := range per {
		wg.Go(func() {
			for i := range n {
				o := Outgoing{To: []string{to(g, i)}, Data: raw(fmt.Sprintf(`{"g":%d,"i":%d}`, g, i))}
				if err := c.SendMessageAsync(ctx, o, func(r SendResult, err error) {
					answers <- asyncAnswer{g, i, r, err}
				}); err != nil {
					t.Errorf("send %d/%d: %v", g, i, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

type asyncAnswer struct {
	g, i int
	res  SendResult
	err  error
}

// collect waits for n answers and fails on a duplicate.
func collect(t *testing.T, answers <-chan asyncAnswer, n int) map[[2]int]asyncAnswer {
	t.Helper()
	got := make(map[[2]int]asyncAnswer, n)
	for range n {
		a := waitChan(t, answers, "an answer")
		if _, dup := got[[2]int{a.g, a.i}]; dup {
			t.Fatalf("message %d/%d answered twice", a.g, a.i)
		}
		got[[2]int{a.g, a.i}] = a
	}
	return got
}

// senderToBob starts a real hub with two backends: the one returned to
// send from, and one holding "bob" whose messages rb records.
func senderToBob(t *testing.T) (a *Client, rb *recorder) {
	t.Helper()
	h := startHub(t, 0)
	rb = newRecorder()
	a = dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	b := dial(t, []string{h.URL}, append(rb.opts(), WithAddress(backendURL(t)))...)
	if err := b.Join(tctx(t), "bob"); err != nil {
		t.Fatal(err)
	}
	return a, rb
}

// TestSendMessageAsyncBatches: messages sent from several goroutines
// while a packet is in flight go out as one array through a real hub;
// each callback gets its own item's answer (delivered or unknown), and
// every goroutine's messages arrive in its order.
func TestSendMessageAsyncBatches(t *testing.T) {
	a, rb := senderToBob(t)
	to := func(g, i int) string {
		if i%10 == 9 {
			return "ghost"
		}
		return "bob"
	}
	per := []int{100, 100, 100, 100}
	answers := make(chan asyncAnswer, 400)
	release := holdWindow(t, a)
	sendFrom(t, a, per, to, answers)
	release()
	got := collect(t, answers, 400)
	ids := map[string]bool{}
	for k, ans := range got {
		want := SendResult{Delivered: []string{"bob"}}
		if to(k[0], k[1]) == "ghost" {
			want = SendResult{Unknown: []string{"ghost"}}
		}
		if ans.err != nil || ans.res.ID == "" || ids[ans.res.ID] ||
			!slices.Equal(ans.res.Delivered, want.Delivered) || !slices.Equal(ans.res.Unknown, want.Unknown) {
			t.Fatalf("answer %v: %+v %v", k, ans.res, ans.err)
		}
		ids[ans.res.ID] = true
	}
	next := make([]int, len(per))
	for range 360 {
		m := rb.next(t)
		var d struct{ G, I int }
		if err := m.Decode(&d); err != nil {
			t.Fatal(err)
		}
		for next[d.G] < per[d.G] && to(d.G, next[d.G]) == "ghost" {
			next[d.G]++
		}
		if d.I != next[d.G] || !ids[m.ID] {
			t.Fatalf("goroutine %d: got message %d (id %s), want %d", d.G, d.I, m.ID, next[d.G])
		}
		next[d.G]++
	}
	if n, items := a.stats.batches.Load(), a.stats.items.Load(); n != 1 || items != 400 {
		t.Fatalf("%d batches with %d messages; want 1 with 400", n, items)
	}
	if s := stateOf(a); s != batchOn {
		t.Fatalf("batch state %d after the hub answered an array", s)
	}

	// A burst larger than one batch is split at maxBatch.
	release = holdWindow(t, a)
	sendFrom(t, a, []int{maxBatch + 5}, func(int, int) string { return "bob" }, answers)
	release()
	for k, ans := range collect(t, answers, maxBatch+5) {
		if ans.err != nil || !slices.Equal(ans.res.Delivered, []string{"bob"}) {
			t.Fatalf("answer %v: %+v %v", k, ans.res, ans.err)
		}
	}
	for i := range maxBatch + 5 {
		if m := rb.next(t); string(m.Data) != fmt.Sprintf(`{"g":0,"i":%d}`, i) {
			t.Fatalf("message %d: %s", i, m.Data)
		}
	}
	if n, items := a.stats.batches.Load(), a.stats.items.Load(); n < 3 || items < 400+maxBatch {
		t.Fatalf("%d batches with %d messages after the large burst", n, items)
	}
}

// TestBatchBinaryInOrder: a binary message queued among text messages is
// sent alone, and the order of the calls holds across it.
func TestBatchBinaryInOrder(t *testing.T) {
	a, rb := senderToBob(t)
	ctx := tctx(t)
	answers := make(chan error, 16)
	done := func(_ SendResult, err error) { answers <- err }
	release := holdWindow(t, a)
	for i := range 9 {
		var data any = raw(itoa(i))
		if i == 4 {
			data = []byte{4}
		}
		if err := a.SendMessageAsync(ctx, Outgoing{To: []string{"bob"}, Data: data}, done); err != nil {
			t.Fatal(err)
		}
	}
	release()
	for range 9 {
		if err := waitChan(t, answers, "an answer"); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 9 {
		m := rb.next(t)
		if bin, ok := m.Bytes(); i == 4 && (!ok || !slices.Equal(bin, []byte{4})) || i != 4 && string(m.Data) != itoa(i) {
			t.Fatalf("message %d: %s %v", i, m.Data, m.Attachments)
		}
	}
	if n := a.stats.batches.Load(); n != 2 {
		t.Fatalf("%d batches; want 2 (before and after the binary message)", n)
	}
}

// TestBatchFallback: a hub without batch support (it answers an array
// with BAD_REQUEST, as every Switchboard before batches did) gets the
// messages of the refused array again one by one, in order, and no array
// after that; every callback gets its answer once.
func TestBatchFallback(t *testing.T) {
	var (
		mu     sync.Mutex
		got    []string // the objects the hub routed, in order
		arrays int
	)
	h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
		mu.Lock()
		defer mu.Unlock()
		if codec.IsJSONArray(m.Args[0]) {
			arrays++
			_ = ack(sio.Args(raw(`{"ok":false,"code":"BAD_REQUEST","message":"message needs an object {to?, room?, data, from?}"}`)))
			return
		}
		got = append(got, string(m.Args[0]))
		_ = ack(sio.Args(raw(fmt.Sprintf(`{"ok":true,"id":"m-%d","delivered":["bob"],"held":[],"unknown":[]}`, len(got)))))
	})
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	if opts := waitChan(t, h.addrOpts, "address"); !strings.Contains(string(opts), `"batch":true`) {
		t.Fatalf("address options %s: no batch:true", opts)
	}
	answers := make(chan asyncAnswer, 200)
	for round := range 2 {
		release := holdWindow(t, a)
		sendFrom(t, a, []int{50, 50}, func(int, int) string { return "bob" }, answers)
		release()
		for k, ans := range collect(t, answers, 100) {
			if ans.err != nil || !strings.HasPrefix(ans.res.ID, "m-") || !slices.Equal(ans.res.Delivered, []string{"bob"}) {
				t.Fatalf("round %d answer %v: %+v %v", round, k, ans.res, ans.err)
			}
		}
		mu.Lock()
		n, routed := arrays, got
		got = nil
		mu.Unlock()
		if n != 1 || len(routed) != 100 {
			t.Fatalf("round %d: %d arrays, %d messages routed; want 1 (the probe) and 100", round, n, len(routed))
		}
		next := [2]int{}
		for _, o := range routed {
			var m struct{ Data struct{ G, I int } }
			if err := json.Unmarshal([]byte(o), &m); err != nil {
				t.Fatal(err)
			}
			if m.Data.I != next[m.Data.G] {
				t.Fatalf("round %d: goroutine %d's message %d routed before %d", round, m.Data.G, m.Data.I, next[m.Data.G])
			}
			next[m.Data.G]++
		}
	}
	if s := stateOf(a); s != batchOff {
		t.Fatalf("batch state %d after BAD_REQUEST", s)
	}
}

// TestBatchingOff: WithBatching(false) announces no batch support and
// never sends an array.
func TestBatchingOff(t *testing.T) {
	var arrays, singles atomic.Int64
	h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
		if codec.IsJSONArray(m.Args[0]) {
			arrays.Add(1)
		} else {
			singles.Add(1)
		}
		_ = ack(sio.Args(raw(`{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`)))
	})
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithBatching(false))
	if opts := waitChan(t, h.addrOpts, "address"); strings.Contains(string(opts), `batch`) {
		t.Fatalf("address options %s with batching off", opts)
	}
	answers := make(chan asyncAnswer, 100)
	release := holdWindow(t, a)
	sendFrom(t, a, []int{50, 50}, func(int, int) string { return "bob" }, answers)
	release()
	for k, ans := range collect(t, answers, 100) {
		if ans.err != nil {
			t.Fatalf("answer %v: %v", k, ans.err)
		}
	}
	if arrays.Load() != 0 || singles.Load() != 100 {
		t.Fatalf("%d arrays, %d single messages", arrays.Load(), singles.Load())
	}
}

// TestBatchConnectionLoss: the connection drops while a batch awaits its
// answer and more messages are queued behind it; every callback is called
// exactly once, with an error.
func TestBatchConnectionLoss(t *testing.T) {
	arrived := make(chan struct{}, 1)
	h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
		if codec.IsJSONArray(m.Args[0]) {
			arrived <- struct{}{} // held: never answered
			return
		}
		_ = ack(sio.Args(raw(`{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`)))
	})
	down := make(chan struct{}, 4)
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), withOnDown(func() { down <- struct{}{} }))
	answers := make(chan asyncAnswer, 300)
	release := holdWindow(t, a)
	sendFrom(t, a, []int{50, 50}, func(int, int) string { return "bob" }, answers)
	release()
	waitChan(t, arrived, "the batch at the hub")
	// Queued behind the batch in flight.
	sendFrom(t, a, []int{0, 0, 60, 40}, func(int, int) string { return "bob" }, answers)

	// The hub ends the session (a server-side disconnect: the client does
	// not reconnect). Closing the whole server instead would let the
	// client's reconnect race sio.Server.Close (its WaitGroup's Add with
	// Wait).
	h.sock.Load().Disconnect("test")
	waitChan(t, down, "connection lost")
	for k, ans := range collect(t, answers, 200) {
		if ans.err == nil {
			t.Fatalf("message %v answered %+v after the connection dropped", k, ans.res)
		}
	}
	select {
	case ans := <-answers:
		t.Fatalf("extra answer %+v", ans)
	default:
	}
	if got := len(a.window); got != 0 {
		t.Fatalf("%d window slots still taken", got)
	}
}

// TestBatchAckTimeout: a batch the hub never answers fails each of its
// messages once with the ack timeout, and the messages queued behind it
// go out after it.
func TestBatchAckTimeout(t *testing.T) {
	var arrays atomic.Int64
	h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
		if codec.IsJSONArray(m.Args[0]) {
			arrays.Add(1) // never answered
			return
		}
		_ = ack(sio.Args(raw(`{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`)))
	})
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithAckTimeout(200*time.Millisecond))
	answers := make(chan asyncAnswer, 100)
	release := holdWindow(t, a)
	sendFrom(t, a, []int{30, 30}, func(int, int) string { return "bob" }, answers)
	release()
	for k, ans := range collect(t, answers, 60) {
		if !errors.Is(ans.err, sio.ErrAckTimeout) {
			t.Fatalf("message %v: %+v %v", k, ans.res, ans.err)
		}
	}
	// The probe failed without an answer: the next burst probes again.
	if s := stateOf(a); s != batchProbe {
		t.Fatalf("batch state %d", s)
	}
}

// TestReceiveBatch: a hub delivering arrays of messages: the handler gets
// each item in order; one ack answers for all, an array of {missing}
// aligned with the items when the handler reported recipients Missing.
func TestReceiveBatch(t *testing.T) {
	h := startFakeHub(t, func(_ *sio.Socket, _ sio.Message, ack sio.Ack) { _ = ack(sio.Message{}) })
	got := make(chan Message, 16)
	dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithOnMessage(func(m Message) {
		if string(m.Data) == `"gone"` {
			m.Missing(m.To...)
		}
		got <- m
	}))
	waitChan(t, h.addrOpts, "address")
	s := h.sock.Load()
	ctx := tctx(t)
	d := func(id, data string) string {
		return `{"id":"` + id + `","from":"alice","backend":"http://127.0.0.1:1","to":["bob","carol"],"room":null,"data":` + data + `}`
	}
	tests := []struct {
		name  string
		items []string
		ack   string // the ack's arguments, as JSON
	}{
		{"all handed over", []string{d("1", "1"), d("2", `{"x":[1,2]}`), d("3", "3")}, `[]`},
		{"missing in the middle", []string{d("4", "4"), d("5", `"gone"`), d("6", "6")}, `[[null,{"missing":["bob","carol"]}]]`},
		{"missing first", []string{d("7", `"gone"`), d("8", "8")}, `[[{"missing":["bob","carol"]}]]`},
		{"one item, escaped (slow path)", []string{`{"id":"9","from":"a\u006cice","to":["bob"],"data":9}`}, `[]`},
	}
	for _, tt := range tests {
		res, err := s.EmitWithAck(ctx, "message", sio.Args(raw("["+strings.Join(tt.items, ",")+"]")))
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if b, _ := json.Marshal(res.Args); string(b) != tt.ack && !(tt.ack == "[]" && string(b) == "null") {
			t.Fatalf("%s: ack %s, want %s", tt.name, b, tt.ack)
		}
		for _, it := range tt.items {
			want, err := decodeMessage([]byte(it))
			if err != nil {
				t.Fatal(err)
			}
			m := waitChan(t, got, "a message")
			if m.ID != want.ID || m.From != "alice" || !reflect.DeepEqual(m.To, want.To) || string(m.Data) != string(want.Data) {
				t.Fatalf("%s: got %+v, want %+v", tt.name, m, want)
			}
		}
	}
	// Room messages come without an ack request, in arrays too; a single
	// object still works.
	if err := s.Emit("message", sio.Args(raw(`[{"id":"r1","room":"lobby","data":1},{"id":"r2","room":"lobby","data":2}]`))); err != nil {
		t.Fatal(err)
	}
	if err := s.Emit("message", sio.Args(raw(`{"id":"r3","room":"lobby","data":3}`))); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"r1", "r2", "r3"} {
		if m := waitChan(t, got, "a room message"); m.ID != id || m.Room != "lobby" {
			t.Fatalf("got %+v, want %s", m, id)
		}
	}
}

func TestDecodeBatchReply(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		results []string
		code    string
		bad     bool
	}{
		{"hub", `{"ok":true,"results":[{"ok":true,"id":"a"},{"ok":false,"code":"INVALID_NAME","message":"x"}]}`,
			[]string{`{"ok":true,"id":"a"}`, `{"ok":false,"code":"INVALID_NAME","message":"x"}`}, "", false},
		{"spaces (slow path)", `{ "results" : [ 1 , 2 ] , "ok" : true, "extra": 1 }`, []string{"1", "2"}, "", false},
		{"whole batch failed", `{"ok":false,"code":"TOO_LARGE","message":"1001 items"}`, nil, CodeTooLarge, false},
		{"not json", `{"ok":tru`, nil, "", true},
		{"results not an array", `{"ok":true,"results":{}}`, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, f, err := decodeBatchReply([]byte(tt.in))
			if (err != nil) != tt.bad {
				t.Fatalf("err %v", err)
			}
			if (f != nil) != (tt.code != "") || f != nil && f.Code != tt.code {
				t.Fatalf("failure %+v, want %q", f, tt.code)
			}
			var got []string
			for _, r := range res {
				got = append(got, string(r))
			}
			if !slices.Equal(got, tt.results) {
				t.Fatalf("results %q, want %q", got, tt.results)
			}
		})
	}
}

// FuzzDecodeBatchReply: the fast path agrees with encoding/json.
func FuzzDecodeBatchReply(f *testing.F) {
	for _, s := range []string{`{"ok":true,"results":[{"ok":true,"id":"a-1","delivered":["bob"],"held":[],"unknown":[]}]}`,
		`{"ok":true,"results":[]}`, `{"ok":false,"code":"BAD_REQUEST","message":"m"}`, `{"ok":true,"results":[1,"x",null]}`,
		`{"results":[1],"ok":true}`, `{"ok":true,"results":[1],"results":[2]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeBatchReplyFast(b)
		if !ok {
			_, _, _ = decodeBatchReply(b)
			return
		}
		var w struct {
			OK      bool              `json:"ok"`
			Results []json.RawMessage `json:"results"`
		}
		if err := json.Unmarshal(b, &w); err != nil || !w.OK {
			t.Fatalf("fast path accepted %q; encoding/json: %v ok=%v", b, err, w.OK)
		}
		if len(fast) != len(w.Results) {
			t.Fatalf("%q: fast %d results, encoding/json %d", b, len(fast), len(w.Results))
		}
		for i := range fast {
			if !json.Valid(fast[i]) || string(fast[i]) != string(w.Results[i]) {
				t.Fatalf("%q: result %d fast %q, encoding/json %q", b, i, fast[i], w.Results[i])
			}
		}
	})
}

// TestMissingInBatch: a burst of direct messages reaches the receiving
// backend as one array from a real hub; the user moved meanwhile and the
// handler reports them Missing for each item: the hub delivers every one,
// in order and with its ID, to the backend the user moved to.
func TestMissingInBatch(t *testing.T) {
	h := startHub(t, 0)
	ra, rc := newRecorder(), newRecorder()
	a := dial(t, []string{h.URL}, append(ra.opts(), WithAddress(backendURL(t)))...)
	c := dial(t, []string{h.URL}, append(rc.opts(), WithAddress(backendURL(t)))...)
	arrived, proceed := make(chan struct{}), make(chan struct{})
	var first sync.Once
	b := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithOnMessage(func(m Message) {
		first.Do(func() {
			close(arrived)
			<-proceed // bob moves meanwhile
		})
		m.Missing("bob")
	}))
	ctx := tctx(t)
	if err := b.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	const n = 5
	answers := make(chan asyncAnswer, n)
	release := holdWindow(t, a)
	sendFrom(t, a, []int{n}, func(int, int) string { return "bob" }, answers)
	release()
	ids := make([]string, n)
	for k, ans := range collect(t, answers, n) {
		if ans.err != nil || !slices.Equal(ans.res.Delivered, []string{"bob"}) {
			t.Fatalf("answer %v: %+v %v", k, ans.res, ans.err)
		}
		ids[k[1]] = ans.res.ID
	}
	waitChan(t, arrived, "the batch at b")
	moveWhileHandled(t, a, b, c, "bob", proceed)
	for i := range n {
		if m := rc.next(t); m.ID != ids[i] || string(m.Data) != fmt.Sprintf(`{"g":0,"i":%d}`, i) {
			t.Fatalf("redelivered %d: %+v (id %s)", i, m, ids[i])
		}
	}
	if got := b.stats.recv.Load(); got != 1 {
		t.Fatalf("b received %d arrays; want the burst as one", got)
	}
}

// TestBatchWholeFailure: once the hub took an array, a failure answered
// for a whole batch reaches every message of it (and does not turn
// batching off).
func TestBatchWholeFailure(t *testing.T) {
	var arrays atomic.Int64
	h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
		if !codec.IsJSONArray(m.Args[0]) {
			_ = ack(sio.Args(raw(`{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`)))
			return
		}
		if arrays.Add(1) > 1 {
			_ = ack(sio.Args(raw(`{"ok":false,"code":"TOO_LARGE","message":"too many"}`)))
			return
		}
		items := strings.Count(string(m.Args[0]), `"to"`)
		one := `{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`
		_ = ack(sio.Args(raw(`{"ok":true,"results":[` + strings.TrimSuffix(strings.Repeat(one+",", items), ",") + `]}`)))
	})
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	answers := make(chan asyncAnswer, 20)
	for round, want := range []error{nil, ErrTooLarge} {
		release := holdWindow(t, a)
		sendFrom(t, a, []int{10}, func(int, int) string { return "bob" }, answers)
		release()
		for k, ans := range collect(t, answers, 10) {
			if !errors.Is(ans.err, want) || want == nil && ans.res.ID != "m" {
				t.Fatalf("round %d, message %v: %+v %v", round, k, ans.res, ans.err)
			}
		}
	}
	if s := stateOf(a); s != batchOn {
		t.Fatalf("batch state %d", s)
	}
}

// fakeClock is a settable clock for WithAckTimeout's deadlines.
type fakeClock struct{ ns atomic.Int64 }

func (f *fakeClock) now() time.Time       { return time.Unix(0, f.ns.Load()) }
func (f *fakeClock) set(t time.Time)      { f.ns.Store(t.UnixNano()) }
func withClock(f func() time.Time) Option { return func(c *config) error { c.now = f; return nil } }

// TestQueuedAckDeadline: the ack timeout counts from SendMessageAsync's
// call. Messages whose deadline passed while they were queued fail with
// ErrAckTimeout and are never sent; the rest go out as one batch, which
// the hub answers.
func TestQueuedAckDeadline(t *testing.T) {
	var got atomic.Int64 // messages the hub received
	h := startFakeHub(t, func(_ *sio.Socket, m sio.Message, ack sio.Ack) {
		if codec.IsJSONArray(m.Args[0]) {
			var items []json.RawMessage
			_ = json.Unmarshal(m.Args[0], &items)
			got.Add(int64(len(items)))
			res := `{"ok":true,"results":[`
			for i := range items {
				if i > 0 {
					res += ","
				}
				res += `{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`
			}
			_ = ack(sio.Args(raw(res + "]}")))
			return
		}
		got.Add(1)
		_ = ack(sio.Args(raw(`{"ok":true,"id":"m","delivered":["bob"],"held":[],"unknown":[]}`)))
	})
	const timeout = time.Hour // only the fake clock makes deadlines pass
	clock := &fakeClock{}
	t0 := time.Unix(1_000_000, 0)
	clock.set(t0)
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithAckTimeout(timeout), withClock(clock.now))
	answers := make(chan asyncAnswer, 16)
	release := holdWindow(t, a)
	sendFrom(t, a, []int{3}, func(int, int) string { return "bob" }, answers) // deadline t0+1h
	clock.set(t0.Add(timeout / 2))
	sendFrom(t, a, []int{0, 2}, func(int, int) string { return "bob" }, answers) // t0+1.5h
	clock.set(t0.Add(timeout))                                                   // the first three are late
	release()
	res := collect(t, answers, 5)
	for i := range 3 {
		if ans := res[[2]int{0, i}]; !errors.Is(ans.err, ErrAckTimeout) {
			t.Fatalf("queued past its deadline: message %d got %+v %v; want ErrAckTimeout", i, ans.res, ans.err)
		}
	}
	for i := range 2 {
		if ans := res[[2]int{1, i}]; ans.err != nil || len(ans.res.Delivered) != 1 {
			t.Fatalf("message within its deadline: %d got %+v %v", i, ans.res, ans.err)
		}
	}
	if n := got.Load(); n != 2 {
		t.Fatalf("the hub received %d messages; want the 2 within their deadline", n)
	}
	if n := len(a.window); n != 0 {
		t.Fatalf("%d window slots still taken", n)
	}
}

// queued reports how many messages wait in c's batcher.
func queued(c *Client) int {
	b := batcherOf(c)
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.queue)
}

// TestSendCallsBatch: synchronous Sends from several goroutines while a
// packet is in flight are queued like SendMessageAsync's and go out as
// one array; each call returns its own answer. A call whose ctx ends first
// returns the context's error, and its message still gets routed.
func TestSendCallsBatch(t *testing.T) {
	a, rb := senderToBob(t)
	const n = 10
	release := holdWindow(t, a)
	type result struct {
		i   int
		res SendResult
		err error
	}
	results := make(chan result, n)
	for i := range n {
		go func() {
			res, err := a.Send(tctx(t), []string{"bob"}, i)
			results <- result{i, res, err}
		}()
	}
	// One more, whose caller gives up before the answer.
	short, cancel := context.WithCancel(tctx(t))
	gaveUp := make(chan error, 1)
	go func() {
		_, err := a.Send(short, []string{"bob"}, n)
		gaveUp <- err
	}()
	for deadline := time.Now().Add(wait); queued(a) < n+1; {
		if time.Now().After(deadline) {
			t.Fatalf("%d messages queued; want %d", queued(a), n+1)
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := waitChan(t, gaveUp, "the cancelled Send"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Send returned %v; want context.Canceled", err)
	}
	release()
	ids := map[string]bool{}
	for range n {
		r := waitChan(t, results, "a Send's answer")
		if r.err != nil || !slices.Equal(r.res.Delivered, []string{"bob"}) || ids[r.res.ID] {
			t.Fatalf("Send %d: %+v %v", r.i, r.res, r.err)
		}
		ids[r.res.ID] = true
	}
	got := map[string]bool{}
	for range n + 1 {
		got[string(rb.next(t).Data)] = true
	}
	for i := range n + 1 {
		if !got[itoa(i)] {
			t.Fatalf("bob did not receive message %d (got %v)", i, got)
		}
	}
	if b, items := a.stats.batches.Load(), a.stats.items.Load(); b != 1 || items != n+1 {
		t.Fatalf("%d batches with %d messages; want 1 with %d", b, items, n+1)
	}
	if w := len(a.window); w != 0 {
		t.Fatalf("%d window slots still taken", w)
	}
}
