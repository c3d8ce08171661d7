package control_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestAddressJoinsAndLeavesPool(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a := dialPeer(t, h, "")
	r := a.register(t, "http://127.0.0.1:3001")
	if r.Address != "http://127.0.0.1:3001" || r.ID == "" {
		t.Fatalf("ack = %+v", r)
	}
	if b := h.Reg.Get(r.ID); b == nil || b.Addr != "127.0.0.1:3001" || b.Weight != 1 || b.Session != a.S.ID() || b.Session == "" {
		t.Fatalf("registry entry %+v (session: want the peer's socket id %q)", b, a.S.ID())
	}
	b := dialPeer(t, h, "")
	rb := b.res(t, "address", quote("http://127.0.0.1:3002"), `{"weight":3,"url":"http://public.example:80/b/3002","meta":{"zone":"a"}}`)
	if !rb.OK {
		t.Fatalf("address with options: %+v", rb)
	}
	if got := recv(t, a.Pool, "server_joined"); got != "server_joined http://127.0.0.1:3002" {
		t.Fatalf("a saw %q", got)
	}
	if e := h.Reg.Get(rb.ID); e.Weight != 3 || e.PublicURL != "http://public.example:80/b/3002" || string(e.Meta) != `{"zone":"a"}` {
		t.Fatalf("options not applied: %+v", e)
	}
	_ = b.C.Close()
	if got := recv(t, a.Pool, "server_left"); got != "server_left http://127.0.0.1:3002" {
		t.Fatalf("a saw %q", got)
	}
	testutil.WaitFor(t, "backend b gone", func() bool { return h.Reg.Get(rb.ID) == nil })
	if h.Reg.Len() != 1 {
		t.Fatalf("pool has %d backends", h.Reg.Len())
	}
}

func TestAddressRules(t *testing.T) {
	h := newHub(t, control.Config{OwnAddrs: []string{"127.0.0.1:8080"}}, router.Config{})
	p := dialPeer(t, h, "")
	for _, tc := range []struct{ name, args, code string }{
		{"template", `"http://{ip}:{port}"`, "BAD_ADDRESS"},
		{"no port", `"http://127.0.0.1"`, "BAD_ADDRESS"},
		{"scheme", `"ftp://127.0.0.1:21"`, "BAD_ADDRESS"},
		{"userinfo", `"http://u:p@127.0.0.1:3001"`, "BAD_ADDRESS"},
		{"no host", `"http://:3001"`, "BAD_ADDRESS"},
		{"path", `"http://127.0.0.1:3001/app"`, "BAD_ADDRESS"},
		{"not a string", `42`, "BAD_ADDRESS"},
		{"own listener", `"http://127.0.0.1:8080"`, "BAD_ADDRESS"},
		{"own listener via localhost", `"http://localhost:8080"`, "BAD_ADDRESS"},
		{"bad weight", `"http://127.0.0.1:3001", {"weight": 0}`, "BAD_REQUEST"},
		{"bad options", `"http://127.0.0.1:3001", "heavy"`, "BAD_REQUEST"},
		{"bad public url", `"http://127.0.0.1:3001", {"url": "nope"}`, "BAD_REQUEST"},
		{"public url with userinfo", `"http://127.0.0.1:3001", {"url": "http://u:p@x.example/b"}`, "BAD_REQUEST"},
		{"meta too large", `"http://127.0.0.1:3001", {"meta": "` + string(make([]byte, 0)) + fmt.Sprintf("%05000d", 0) + `"}`, "TOO_LARGE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var args []json.RawMessage
			if err := json.Unmarshal([]byte("["+tc.args+"]"), &args); err != nil {
				t.Fatal(err)
			}
			ss := make([]string, len(args))
			for i, a := range args {
				ss[i] = string(a)
			}
			r := p.res(t, "address", ss...)
			if r.OK || r.Code != tc.code || r.Message == "" {
				t.Fatalf("got %+v, want code %s", r, tc.code)
			}
		})
	}
	if h.Reg.Len() != 0 {
		t.Fatalf("a refused address joined the pool")
	}
	// An unspecified host is replaced by the peer's IP.
	r := p.res(t, "address", quote("http://0.0.0.0:3005"))
	if !r.OK || r.Address != "http://127.0.0.1:3005" {
		t.Fatalf("0.0.0.0: %+v", r)
	}
}

func TestErrorEventWithoutAck(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	p := dialPeer(t, h, "")
	if err := p.S.Emit("join_subs", sio.Args(json.RawMessage(`"alice"`))); err != nil {
		t.Fatal(err)
	}
	if err := p.S.Emit("no_such_event", sio.Message{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"NOT_REGISTERED", "UNKNOWN_EVENT"} {
		if f := p.nextError(t); f.OK || f.Code != want || f.Event == "" {
			t.Fatalf("error event %+v, want %s", f, want)
		}
	}
}

func TestToken(t *testing.T) {
	h := newHub(t, control.Config{Token: "s3cret"}, router.Config{})
	for _, tc := range []struct{ name, auth, want string }{
		{"missing", "", "unauthorized: token required (auth: {token})"},
		{"wrong", `{"token":"nope"}`, "unauthorized: wrong token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newPeer(t, h, tc.auth)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := p.C.Connect(ctx)
			var ce *sio.ConnectError
			if !errors.As(err, &ce) || ce.Message != tc.want {
				t.Fatalf("connect error %v, want %q", err, tc.want)
			}
		})
	}
	p := dialPeer(t, h, `{"token":"s3cret"}`)
	p.register(t, "http://127.0.0.1:3001")

	// The token may come as a `token` query parameter instead.
	for tok, want := range map[string]string{"nope": "unauthorized: wrong token", "s3cret": ""} {
		c := sio.NewClient(h.URL, sio.ClientConfig{DialConfig: eio.DialConfig{Path: "/list", Query: url.Values{"token": {tok}}}})
		t.Cleanup(func() { _ = c.Close() })
		s := c.Socket("/list", nil)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := c.Connect(ctx)
		cancel()
		var ce *sio.ConnectError
		switch {
		case want == "" && err != nil:
			t.Fatalf("?token=%s: %v", tok, err)
		case want != "" && (!errors.As(err, &ce) || ce.Message != want):
			t.Fatalf("?token=%s: connect error %v, want %q", tok, err, want)
		case want == "":
			if m, err := s.EmitWithAck(t.Context(), "address", sio.Message{Args: []json.RawMessage{json.RawMessage(`"http://127.0.0.1:3002"`)}}); err != nil || !strings.Contains(string(m.Args[0]), `"ok":true`) {
				t.Fatalf("address after ?token=: %v %v", m, err)
			}
		}
	}
}

func TestReplaced(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a := dialPeer(t, h, "")
	ra := a.register(t, "http://127.0.0.1:3001")
	if r := a.res(t, "join_subs", quote("sadman")); !r.OK {
		t.Fatalf("join: %+v", r)
	}
	b := dialPeer(t, h, "")
	rb := b.register(t, "http://127.0.0.1:3001")
	if f := a.nextError(t); f.Code != "REPLACED" {
		t.Fatalf("old session told %+v, want REPLACED", f)
	}
	if reason := recv(t, a.Disc, "the old session's disconnect"); reason != sio.ReasonIOServerDisconnect {
		t.Fatalf("old session disconnected with %q", reason)
	}
	if h.Reg.Len() != 1 || h.Reg.Get(rb.ID) == nil || h.Reg.Get(ra.ID) != nil {
		t.Fatalf("pool: %d backends", h.Reg.Len())
	}
	// The old session's names are orphaned: the new one re-claims them.
	if r := b.res(t, "join_subs", quote("sadman")); !r.OK {
		t.Fatalf("re-claim after replace: %+v", r)
	}
}

func TestPresence(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b := dialPeer(t, h, "")
	b.register(t, "http://127.0.0.1:3002")

	if r := a.res(t, "join_subs", `["sadman","alif"]`); !r.OK || len(r.Joined) != 2 {
		t.Fatalf("join: %+v", r)
	}
	r := b.res(t, "join_subs", quote("alif"))
	if r.OK || r.Code != "NAME_TAKEN" || r.Holder != "http://127.0.0.1:3001" {
		t.Fatalf("taken: %+v", r)
	}
	if r := b.res(t, "leave_subs", quote("alif")); r.OK || r.Code != "NOT_HOLDER" {
		t.Fatalf("leave by non-holder: %+v", r)
	}
	for _, bad := range []string{`""`, `"a\u0000b"`, quote(string(make([]byte, 200)))} {
		if r := b.res(t, "join_subs", bad); r.OK || r.Code != "INVALID_NAME" {
			t.Fatalf("join %s: %+v", bad, r)
		}
	}
	if r := b.res(t, "join_subs", `{"name":"x"}`); r.OK || r.Code != "BAD_REQUEST" {
		t.Fatalf("join object: %+v", r)
	}
	ex := b.call(t, "subs_exists", quote("alif"))
	if len(ex) != 2 || string(ex[0]) != "true" || string(ex[1]) != `"http://127.0.0.1:3001"` {
		t.Fatalf("subs_exists alif = %s", ex)
	}
	ex = b.call(t, "subs_exists", quote("nobody"))
	if string(ex[0]) != "false" || string(ex[1]) != "null" {
		t.Fatalf("subs_exists nobody = %s", ex)
	}
	ex = b.call(t, "subs_exists", `["alif","nobody"]`)
	if string(ex[0]) != "[true,false]" || string(ex[1]) != `["http://127.0.0.1:3001",null]` {
		t.Fatalf("subs_exists list = %s", ex)
	}
	if r := a.res(t, "leave_subs", quote("alif")); !r.OK {
		t.Fatalf("leave: %+v", r)
	}
	if r := b.res(t, "join_subs", quote("alif")); !r.OK {
		t.Fatalf("join after leave: %+v", r)
	}
}

// TestConcurrentClaims: three backends claim one name at once; exactly one wins.
func TestConcurrentClaims(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	var peers []*peer
	for i := range 3 {
		p := dialPeer(t, h, "")
		p.register(t, fmt.Sprintf("http://127.0.0.1:%d", 3001+i))
		peers = append(peers, p)
	}
	for round := range 20 {
		name := fmt.Sprintf("user%d", round)
		var wg sync.WaitGroup
		results := make([]result, 3)
		for i, p := range peers {
			wg.Go(func() { results[i] = p.res(t, "join_subs", quote(name)) })
		}
		wg.Wait()
		wins := 0
		for _, r := range results {
			if r.OK {
				wins++
			} else if r.Code != "NAME_TAKEN" {
				t.Fatalf("loser got %+v", r)
			}
		}
		if wins != 1 {
			t.Fatalf("round %d: %d winners", round, wins)
		}
	}
}

func TestMessaging(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	users := map[string][]string{"3001": {"sadman", "alif"}, "3002": {"ihsan"}, "3003": {"ahsan", "baki"}}
	peers := map[string]*peer{}
	holder := map[string]string{}
	for _, port := range []string{"3001", "3002", "3003"} {
		p := dialPeer(t, h, "")
		p.register(t, "http://127.0.0.1:"+port)
		if r := p.res(t, "join_subs", mustJSON(users[port])); !r.OK {
			t.Fatalf("join: %+v", r)
		}
		peers[port] = p
		for _, u := range users[port] {
			holder[u] = port
		}
	}
	for _, p := range peers { // drain pool announcements
		for len(p.Pool) > 0 {
			<-p.Pool
		}
	}
	// Every ordered pair exchanges a direct message.
	for from, fp := range holder {
		for to, tp := range holder {
			if from == to {
				continue
			}
			data := fmt.Sprintf(`{"text":"%s->%s"}`, from, to)
			r := peers[fp].res(t, "message", fmt.Sprintf(`{"to":%q,"from":%q,"data":%s}`, to, from, data))
			if !r.OK || len(r.Delivered) != 1 || r.Delivered[0] != to {
				t.Fatalf("%s->%s ack %+v", from, to, r)
			}
			d := peers[tp].next(t)
			if string(d.Data) != data || len(d.To) != 1 || d.To[0] != to || *d.From != from || d.Backend != "http://127.0.0.1:"+fp {
				t.Fatalf("%s->%s delivered %+v", from, to, d)
			}
		}
	}
	// Public: every other backend, never the sender.
	r := peers["3002"].res(t, "message", `{"data":[1,2,3],"from":"ihsan"}`)
	if !r.OK {
		t.Fatalf("public: %+v", r)
	}
	for _, port := range []string{"3001", "3003"} {
		if d := peers[port].next(t); string(d.Data) != "[1,2,3]" || d.To != nil {
			t.Fatalf("public at %s: %+v", port, d)
		}
	}
	peers["3002"].none(t)
	// Rooms: only members, never the sender; broadcast is the same relay.
	peers["3001"].res(t, "join_room", quote("lobby"))
	peers["3003"].res(t, "join_room", quote("lobby"))
	peers["3003"].res(t, "broadcast", `{"channel":"lobby","data":"hi"}`)
	if d := peers["3001"].next(t); string(d.Data) != `"hi"` || *d.Room != "lobby" {
		t.Fatalf("room: %+v", d)
	}
	peers["3002"].none(t)
	peers["3003"].none(t)
	peers["3001"].res(t, "broadcast", `{"channel":"*","data":"all"}`)
	for _, port := range []string{"3002", "3003"} {
		if d := peers[port].next(t); string(d.Data) != `"all"` {
			t.Fatalf("broadcast * at %s: %+v", port, d)
		}
	}
	// Unknown recipients are reported, not silently dropped.
	r = peers["3001"].res(t, "message", `{"to":["ihsan","ghost"],"data":1}`)
	if !contains(r.Delivered, "ihsan") || !contains(r.Unknown, "ghost") {
		t.Fatalf("mixed recipients: %+v", r)
	}
	peers["3002"].next(t)
	// Malformed payloads get BAD_REQUEST and change nothing.
	for _, bad := range []string{`"text"`, `{"to":5,"data":1}`, `{"to":[],"data":1}`, `{"room":"","data":1}`} {
		if r := peers["3001"].res(t, "message", bad); r.OK || r.Code != "BAD_REQUEST" {
			t.Fatalf("message %s: %+v", bad, r)
		}
	}
	if r := peers["3001"].res(t, "message", `{"to":"ihsan","room":"lobby","data":1}`); r.OK {
		t.Fatalf("to+room accepted: %+v", r)
	}
	for _, p := range peers {
		p.none(t)
	}
}

func TestBinaryRelay(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a, b := senderAndHolder(t, h, quote("bob"))
	got := make(chan sio.Message, 1)
	b.S.On("message", func(m sio.Message, _ sio.Ack) { got <- m })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	payload := []byte{0, 1, 2, 255}
	ack, err := a.S.EmitWithAck(ctx, "message", sio.Message{
		Args:        []json.RawMessage{json.RawMessage(`{"to":"bob","data":{"file":` + string(sio.Placeholder(0)) + `}}`)},
		Attachments: [][]byte{payload},
	})
	if err != nil || len(ack.Args) != 1 {
		t.Fatalf("ack %v %v", ack, err)
	}
	if m := recv(t, got, "the binary message"); len(m.Attachments) != 1 || string(m.Attachments[0]) != string(payload) {
		t.Fatalf("attachments %v", m.Attachments)
	}
}

// TestOrphanMailbox: a backend dies; its users' direct messages are held
// and reach them, in order, when another backend re-claims them.
func TestOrphanMailbox(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	a.res(t, "join_subs", quote("sadman"))
	b := dialPeer(t, h, "")
	b.register(t, "http://127.0.0.1:3002")
	_ = a.C.Close()
	h.waitOrphaned(t, "sadman")
	ex := b.call(t, "subs_exists", quote("sadman"))
	if string(ex[0]) != "true" || string(ex[1]) != "null" {
		t.Fatalf("orphan subs_exists = %s", ex)
	}
	for i := range 5 {
		r := b.res(t, "message", fmt.Sprintf(`{"to":"sadman","data":%d}`, i))
		if !r.OK || len(r.Held) != 1 {
			t.Fatalf("held ack %+v", r)
		}
	}
	c := dialPeer(t, h, "")
	c.register(t, "http://127.0.0.1:3003")
	if r := c.res(t, "join_subs", quote("sadman")); !r.OK {
		t.Fatalf("re-claim %+v", r)
	}
	b.res(t, "message", `{"to":"sadman","data":"newer"}`)
	for i := range 5 {
		if d := c.next(t); string(d.Data) != fmt.Sprint(i) {
			t.Fatalf("mailbox message %d = %s", i, d.Data)
		}
	}
	if d := c.next(t); string(d.Data) != `"newer"` {
		t.Fatalf("newer = %s", d.Data)
	}
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestUnconfirmedGivenBack: a backend that announced ack:true receives
// direct messages but dies before acking them (killed mid-processing); the
// messages are not lost: the user's next holder gets them, in order.
func TestUnconfirmedGivenBack(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	got := make(chan string, 16)
	b := ackPeer(t, h, "http://127.0.0.1:3002", func(m sio.Message, ack sio.Ack) { got <- "seen" }) // never acks
	b.res(t, "join_subs", quote("bob"))
	for i := range 3 {
		if r := a.res(t, "message", fmt.Sprintf(`{"to":"bob","data":%d}`, i)); len(r.Delivered) != 1 {
			t.Fatalf("delivered ack %+v", r)
		}
		<-got
	}
	_ = b.C.Close()
	h.waitOrphaned(t, "bob")
	c := dialPeer(t, h, "")
	c.register(t, "http://127.0.0.1:3003")
	if r := c.res(t, "join_subs", quote("bob")); !r.OK {
		t.Fatalf("re-claim %+v", r)
	}
	for i := range 3 {
		if d := c.next(t); string(d.Data) != fmt.Sprint(i) {
			t.Fatalf("given back %d = %s", i, d.Data)
		}
	}
	c.none(t)
}

// TestConfirmedNotRepeated: acked messages are forgotten; nothing is given
// back when such a backend ends.
func TestConfirmedNotRepeated(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	got := make(chan string, 16)
	b := ackPeer(t, h, "http://127.0.0.1:3002", func(m sio.Message, ack sio.Ack) { _ = ack(sio.Message{}); got <- "seen" })
	b.res(t, "join_subs", quote("bob"))
	for range 3 {
		a.res(t, "message", `{"to":"bob","data":1}`)
		<-got
	}
	b.res(t, "join_room", quote("sync")) // acks were sent before this round trip's answer
	_ = b.C.Close()
	h.waitOrphaned(t, "bob")
	c := dialPeer(t, h, "")
	c.register(t, "http://127.0.0.1:3003")
	c.res(t, "join_subs", quote("bob"))
	c.none(t)
}

// TestUnconfirmedOverflowCutsOff: a backend that never acks is cut off once
// MaxUnconfirmed messages wait (its transport is closed, so a real client
// reconnects), and every message — the waiting ones and the one that
// overflowed — reaches the user's next holder in order. The sender asks for
// no acks, so nothing paces it.
func TestUnconfirmedOverflowCutsOff(t *testing.T) {
	h := newHub(t, control.Config{MaxUnconfirmed: 3}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	b := ackPeer(t, h, "http://127.0.0.1:3002", func(sio.Message, sio.Ack) {}) // never acks
	b.res(t, "join_subs", quote("bob"))
	for i := range 4 {
		if err := a.S.Emit("message", sio.Args(json.RawMessage(fmt.Sprintf(`{"to":"bob","data":%d}`, i)))); err != nil {
			t.Fatal(err)
		}
	}
	if reason := recv(t, b.Disc, "the backend being cut off"); reason != sio.ReasonTransportClose {
		t.Fatalf("cut off with %q, want a transport close (the client reconnects)", reason)
	}
	h.waitOrphaned(t, "bob")
	c := dialPeer(t, h, "")
	c.register(t, "http://127.0.0.1:3003")
	c.res(t, "join_subs", quote("bob"))
	for i := range 4 {
		if d := c.next(t); string(d.Data) != fmt.Sprint(i) {
			t.Fatalf("message %d = %s", i, d.Data)
		}
	}
	if st := h.Ch.Stats(); st.CutOff != 1 || st.GivenBack == 0 {
		t.Fatalf("stats %+v: want one cut-off and the unconfirmed given back", st)
	}
}

// TestMissingRedelivered: a backend acks a direct message with
// {missing:["bob"]} — bob moved to another backend while the message was in
// flight — and Switchboard delivers it to bob's new holder.
func TestMissingRedelivered(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	acks := make(chan sio.Ack, 1)
	b := ackPeer(t, h, "http://127.0.0.1:3002", func(_ sio.Message, ack sio.Ack) { acks <- ack }) // acks later
	b.res(t, "join_subs", quote("bob"))
	c := dialPeer(t, h, "")
	c.register(t, "http://127.0.0.1:3003")

	a.res(t, "message", `{"to":"bob","data":"in flight"}`)
	ack := <-acks
	// bob leaves b and logs in on c; then b reports him missing.
	b.res(t, "leave_subs", quote("bob"))
	c.res(t, "join_subs", quote("bob"))
	if err := ack(sio.Args(json.RawMessage(`{"missing":["bob"]}`))); err != nil {
		t.Fatal(err)
	}
	if d := c.next(t); string(d.Data) != `"in flight"` || fmt.Sprint(d.To) != "[bob]" {
		t.Fatalf("redelivered %+v", d)
	}
	if st := h.Ch.Stats(); st.Missing != 1 {
		t.Fatalf("stats %+v: want one {missing} re-route", st)
	}
}

// TestSenderPacedByUnconfirmed: past half of MaxUnconfirmed the sender's
// ack is held until the receiver confirms its way back to a quarter, so a
// sender that waits for its acks slows down and the receiver is not cut off.
func TestSenderPacedByUnconfirmed(t *testing.T) {
	h := newHub(t, control.Config{MaxUnconfirmed: 8}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	held := make(chan sio.Ack, 16)
	b := ackPeer(t, h, "http://127.0.0.1:3002", func(_ sio.Message, ack sio.Ack) { held <- ack }) // acks when told
	b.res(t, "join_subs", quote("bob"))

	answered := make(chan int, 16)
	for i := range 5 {
		m := sio.Args(json.RawMessage(fmt.Sprintf(`{"to":"bob","data":%d}`, i)))
		if err := a.S.EmitWithAckFunc("message", m, 10*time.Second, func(_ sio.Message, err error) {
			if err == nil {
				answered <- i
			}
		}); err != nil {
			t.Fatal(err)
		}
	}
	var acks []sio.Ack
	for range 5 {
		acks = append(acks, recv(t, held, "a delivery"))
	}
	for i := range 4 {
		if got := recv(t, answered, "the sender's ack"); got != i {
			t.Fatalf("ack %d for message %d", got, i)
		}
	}
	// Five unconfirmed (over 8/2): the fifth message's ack is held.
	b.res(t, "join_room", quote("sync")) // a round trip through the hub
	select {
	case i := <-answered:
		t.Fatalf("message %d answered while the receiver is over its mark", i)
	default:
	}
	for _, ack := range acks[:3] { // down to two (8/4): released
		if err := ack(sio.Message{}); err != nil {
			t.Fatal(err)
		}
	}
	if got := recv(t, answered, "the held ack"); got != 4 {
		t.Fatalf("released ack for message %d", got)
	}
	select {
	case reason := <-b.Disc:
		t.Fatalf("receiver cut off: %s", reason)
	default:
	}
}

// TestDrain: `drain` marks the registered backend draining (so the proxy,
// the tracker and user affinity stop giving it new work) and acks the
// server's load, counting the work of an earlier registration of the same
// address that is still running; without an address it is refused.
func TestDrain(t *testing.T) {
	h := newHub(t, control.Config{}, router.Config{})
	a := dialPeer(t, h, "")
	if r := a.res(t, "drain"); r.OK || r.Code != "NOT_REGISTERED" {
		t.Fatalf("drain before address: %+v", r)
	}
	first := a.register(t, "http://127.0.0.1:3001")
	b := h.Reg.Get(first.ID)
	b.AddInFlight(2)
	b.AddTunnels(1)
	_ = a.C.Close()
	testutil.WaitFor(t, "first registration gone", func() bool { return h.Reg.Get(first.ID) == nil })

	a2 := dialPeer(t, h, "")
	second := a2.register(t, "http://127.0.0.1:3001")
	nb := h.Reg.Get(second.ID)
	if nb == b || nb.Draining() {
		t.Fatalf("new registration %+v", nb)
	}
	r := a2.res(t, "drain")
	if !r.OK || r.InFlight == nil || *r.InFlight != 2 || r.Tunnels == nil || *r.Tunnels != 1 {
		t.Fatalf("drain ack %+v: want in_flight 2 and tunnels 1 (the earlier registration's work)", r)
	}
	if !nb.Draining() {
		t.Fatal("backend not marked draining")
	}
	b.AddInFlight(-2)
	b.AddTunnels(-1)
	nb.AddInFlight(1)
	if r := a2.res(t, "drain"); !r.OK || *r.InFlight != 1 || *r.Tunnels != 0 {
		t.Fatalf("second drain ack %+v: want in_flight 1, tunnels 0", r)
	}
	nb.AddInFlight(-1)
}

// TestHandshakesBounded: Engine.IO sessions that never CONNECT the
// namespace count toward MaxSessions too, so bare handshakes cannot open
// sessions without bound; past it a handshake is refused with 403.
func TestHandshakesBounded(t *testing.T) {
	h := newHub(t, control.Config{MaxSessions: 2}, router.Config{})
	handshake := func() int {
		res, err := http.Get(h.URL + "/list/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	for i := range 2 {
		if code := handshake(); code != http.StatusOK {
			t.Fatalf("handshake %d: %d", i, code)
		}
	}
	if code := handshake(); code != http.StatusForbidden {
		t.Fatalf("handshake past the bound: %d, want 403", code)
	}
}

// TestAckTimedOutCounted: a direct message the receiving backend never
// acks within AckWait is taken as handed over (it is not given back if
// the backend ends later); the channel counts it, besides the log line.
func TestAckTimedOutCounted(t *testing.T) {
	h := newHub(t, control.Config{AckWait: 100 * time.Millisecond}, router.Config{Grace: time.Minute})
	a := dialPeer(t, h, "")
	a.register(t, "http://127.0.0.1:3001")
	got := make(chan string, 16)
	b := ackPeer(t, h, "http://127.0.0.1:3002", func(m sio.Message, ack sio.Ack) { got <- "seen" }) // never acks
	b.res(t, "join_subs", quote("bob"))
	for range 2 {
		a.res(t, "message", `{"to":"bob","data":1}`)
		recv(t, got, "delivery")
	}
	testutil.WaitFor(t, "two ack timeouts counted", func() bool { return h.Ch.Stats().AckTimedOut == 2 })
}
