package client

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// TestDeps checks the package's promise: it imports only the standard
// library and Switchboard's protocol packages.
func TestDeps(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := []string{
		"github.com/switchboard-lb/switchboard/client",
		"github.com/switchboard-lb/switchboard/internal/sio",
		"github.com/switchboard-lb/switchboard/internal/sio/eio",
		"github.com/switchboard-lb/switchboard/internal/sio/codec",
		"github.com/switchboard-lb/switchboard/internal/ws",
		"github.com/switchboard-lb/switchboard/internal/rawio", // internal/ws's socket system calls
	}
	for _, p := range strings.Fields(string(out)) {
		if !slices.Contains(allowed, p) {
			t.Errorf("client depends on %s", p)
		}
	}
}

func TestRegisterPresence(t *testing.T) {
	h := startHub(t, 0)
	a := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithWeight(3), WithMeta(map[string]int{"zone": 1}))
	b := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
	ctx := tctx(t)
	if a.ID() == "" || a.Address() == "" || a.Hub() != h.URL || !a.Connected() {
		t.Fatalf("id %q address %q hub %q connected %v", a.ID(), a.Address(), a.Hub(), a.Connected())
	}

	if err := a.Join(ctx, "alice", "bob"); err != nil {
		t.Fatal(err)
	}
	if got := a.Names(); !slices.Equal(got, []string{"alice", "bob"}) {
		t.Fatalf("names %v", got)
	}
	ok, holder, err := b.Exists(ctx, "alice")
	if err != nil || !ok || holder != a.Address() {
		t.Fatalf("exists alice: %v %q %v (want holder %q)", ok, holder, err, a.Address())
	}
	ok, holder, err = b.Exists(ctx, "nobody")
	if err != nil || ok || holder != "" {
		t.Fatalf("exists nobody: %v %q %v", ok, holder, err)
	}

	// Taken: errors.Is and errors.As; the other names still claimed.
	err = b.Join(ctx, "carol", "alice")
	if !errors.Is(err, ErrNameTaken) {
		t.Fatalf("join alice from b: %v", err)
	}
	var nt *NameTakenError
	if !errors.As(err, &nt) || nt.Name != "alice" || nt.Holder != a.Address() {
		t.Fatalf("NameTakenError %+v", nt)
	}
	if got := b.Names(); !slices.Equal(got, []string{"carol"}) {
		t.Fatalf("b names %v", got)
	}

	// Not holder; invalid name; codes without a name.
	if err := b.Leave(ctx, "alice"); !errors.Is(err, ErrNotHolder) {
		t.Fatalf("leave alice from b: %v", err)
	}
	if err := a.Join(ctx, ""); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("join empty: %v", err)
	}
	var he *HubError
	if err := a.Join(ctx, "bad\x01name"); !errors.As(err, &he) || he.Code != CodeInvalidName || he.Name != "bad\x01name" {
		t.Fatalf("join control char: %v", err)
	}
	if _, err := a.Send(ctx, []string{""}, "x"); !errors.Is(err, ErrInvalidName) {
		t.Fatalf("send to empty name: %v", err)
	}

	if err := a.Leave(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if got := a.Names(); !slices.Equal(got, []string{"bob"}) {
		t.Fatalf("names after leave %v", got)
	}
	if ok, _, err := b.Exists(ctx, "alice"); err != nil || ok {
		t.Fatalf("alice after leave: %v %v", ok, err)
	}
	if err := b.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
}

func TestDialErrors(t *testing.T) {
	h := startHub(t, 0, "--token", "s3cret")
	ctx := tctx(t)
	_, err := Dial(ctx, []string{h.URL}, WithAddress(backendURL(t)))
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("no token: %v", err)
	}
	_, err = Dial(ctx, []string{h.URL}, WithAddress(backendURL(t)), WithToken("wrong"))
	if !errors.Is(err, ErrUnauthorized) {
		t.Fatalf("wrong token: %v", err)
	}
	_, err = Dial(ctx, []string{h.URL}, WithAddress("ftp://127.0.0.1:1"), WithToken("s3cret"))
	if !errors.Is(err, ErrBadAddress) {
		t.Fatalf("bad address: %v", err)
	}
	_, err = Dial(ctx, []string{h.URL}, WithAddress(h.URL), WithToken("s3cret"))
	if !errors.Is(err, ErrBadAddress) {
		t.Fatalf("own address: %v", err)
	}
	big := json.RawMessage(`"` + strings.Repeat("x", 5000) + `"`)
	_, err = Dial(ctx, []string{h.URL}, WithAddress(backendURL(t)), WithToken("s3cret"), WithMeta(big))
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("meta over 4 KiB: %v", err)
	}
	_, err = Dial(ctx, []string{h.URL}, WithAddress(backendURL(t)), WithToken("s3cret"), WithWeight(5000))
	var he *HubError
	if !errors.Is(err, ErrBadRequest) || !errors.As(err, &he) || he.Event != "address" || he.Message == "" {
		t.Fatalf("weight 5000: %v", err)
	}
	if _, err := Dial(ctx, []string{h.URL}); err == nil {
		t.Fatal("dial without an address succeeded")
	}
	if _, err := Dial(ctx, nil, WithAddress(backendURL(t))); err == nil {
		t.Fatal("dial without a hub succeeded")
	}
	c := dial(t, []string{h.URL + "/list"}, WithAddress(backendURL(t)), WithToken("s3cret"))
	if err := c.Join(ctx, "x"); err != nil {
		t.Fatal(err)
	}
	// Unreachable hub: ctx bounds Dial, and the error says why.
	dctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := Dial(dctx, []string{"http://127.0.0.1:1"}, WithAddress(backendURL(t))); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled dial: %v", err)
	}
}

func TestMessaging(t *testing.T) {
	h := startHub(t, 0)
	ra, rb, rc := newRecorder(), newRecorder(), newRecorder()
	a := dial(t, []string{h.URL}, append(ra.opts(), WithAddress(backendURL(t)))...)
	b := dial(t, []string{h.URL}, append(rb.opts(), WithAddress(backendURL(t)))...)
	c := dial(t, []string{h.URL}, append(rc.opts(), WithAddress(backendURL(t)))...)
	ctx := tctx(t)
	if err := a.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}

	// Direct, with from, to a name held here, unknown.
	res, err := a.SendMessage(ctx, Outgoing{To: []string{"bob", "ghost"}, From: "alice", Data: map[string]string{"text": "hi"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID == "" || !slices.Equal(res.Delivered, []string{"bob"}) || !slices.Equal(res.Unknown, []string{"ghost"}) {
		t.Fatalf("send result %+v", res)
	}
	m := rb.next(t)
	if m.ID != res.ID || m.From != "alice" || m.Backend != a.Address() || !slices.Equal(m.To, []string{"bob"}) ||
		m.Room != "" || m.Kind() != KindDirect {
		t.Fatalf("message %+v", m)
	}
	var body struct{ Text string }
	if err := m.Decode(&body); err != nil || body.Text != "hi" {
		t.Fatalf("decode %s: %v", m.Data, err)
	}

	// Raw JSON and binary payloads.
	if _, err := b.Send(ctx, []string{"alice"}, json.RawMessage(`[1,2,{"x":null}]`)); err != nil {
		t.Fatal(err)
	}
	if m := ra.next(t); string(m.Data) != `[1,2,{"x":null}]` || m.From != "" {
		t.Fatalf("raw message %+v", m)
	}
	if _, err := b.Send(ctx, []string{"alice"}, []byte{0, 1, 2, 255}); err != nil {
		t.Fatal(err)
	}
	if m := ra.next(t); true {
		bin, ok := m.Bytes()
		if !ok || string(bin) != "\x00\x01\x02\xff" {
			t.Fatalf("binary message %+v", m)
		}
	}

	// Rooms: only members, never the sender.
	if err := b.JoinRoom(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := c.JoinRoom(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if err := a.JoinRoom(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Publish(ctx, "lobby", "room hello"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{rb, rc} {
		if m := r.next(t); m.Room != "lobby" || m.Kind() != KindRoom || string(m.Data) != `"room hello"` {
			t.Fatalf("room message %+v", m)
		}
	}
	if err := c.LeaveRoom(ctx, "lobby"); err != nil {
		t.Fatal(err)
	}
	if got := c.Rooms(); len(got) != 0 {
		t.Fatalf("rooms after leave %v", got)
	}
	if _, err := a.Publish(ctx, "lobby", 2); err != nil {
		t.Fatal(err)
	}
	if m := rb.next(t); string(m.Data) != "2" {
		t.Fatalf("room message %+v", m)
	}

	// Public: everyone but the sender.
	if _, err := c.Broadcast(ctx, "all"); err != nil {
		t.Fatal(err)
	}
	for _, r := range []*recorder{ra, rb} {
		if m := r.next(t); m.Kind() != KindPublic || string(m.Data) != `"all"` {
			t.Fatalf("public message %+v", m)
		}
	}
	// Order barrier: a direct message to c after everything else; c must
	// not have seen its own public or the room message after leaving.
	if err := c.Join(ctx, "carol"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Send(ctx, []string{"carol"}, "last"); err != nil {
		t.Fatal(err)
	}
	if m := rc.next(t); string(m.Data) != `"last"` {
		t.Fatalf("c got %+v before the barrier", m)
	}
	if _, err := a.SendMessage(ctx, Outgoing{To: []string{"x"}, Room: "y"}); err == nil {
		t.Fatal("to and room accepted")
	}
}

func TestServerJoinedLeft(t *testing.T) {
	h := startHub(t, 0)
	r := newRecorder()
	a := dial(t, []string{h.URL}, append(r.opts(), WithAddress(backendURL(t)))...)
	_ = a
	addr := backendURL(t)
	b := dial(t, []string{h.URL}, WithAddress(addr), WithPublicURL("https://b.example.com:443"), WithMeta(json.RawMessage(`{"v":2}`)))
	s := waitChan(t, r.joined, "server_joined")
	if s.Address != addr || s.URL != "https://b.example.com:443" || string(s.Meta) != `{"v":2}` || s.ID != b.ID() {
		t.Fatalf("joined %+v (b id %s)", s, b.ID())
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if s := waitChan(t, r.left, "server_left"); s.Address != addr {
		t.Fatalf("left %+v", s)
	}
	if !errors.Is(b.Err(), ErrClosed) {
		t.Fatalf("err after close: %v", b.Err())
	}
	if err := b.Join(tctx(t), "x"); !errors.Is(err, ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
}

func TestReplacedIsFinal(t *testing.T) {
	h := startHub(t, 0)
	addr := backendURL(t)
	a := dial(t, []string{h.URL}, WithAddress(addr))
	ctx := tctx(t)
	if err := a.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	b := dial(t, []string{h.URL}, WithAddress(addr))
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("replaced client still running")
	}
	if !errors.Is(a.Err(), ErrReplaced) {
		t.Fatalf("err %v", a.Err())
	}
	if err := a.Join(ctx, "x"); !errors.Is(err, ErrReplaced) {
		t.Fatalf("join on replaced client: %v", err)
	}
	// The replacement takes over the orphaned name.
	if err := b.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if !b.Connected() {
		t.Fatal("b not connected")
	}
}

// moveWhileHandled moves name from b to c while b's message handler is
// blocked on proceed, then lets the handler go on. b's reader is in the
// handler, so b's Leave completes only after it, but the hub acts on it at
// once: a sees the name leave b before c claims it.
func moveWhileHandled(t *testing.T, a, b, c *Client, name string, proceed chan struct{}) {
	t.Helper()
	ctx := tctx(t)
	left := make(chan error, 1)
	go func() { left <- b.Leave(ctx, name) }()
	for {
		ok, holder, err := a.Exists(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || holder != b.Address() {
			break
		}
	}
	if err := c.Join(ctx, name); err != nil {
		t.Fatal(err)
	}
	close(proceed)
	if err := waitChan(t, left, "b's leave"); err != nil {
		t.Fatal(err)
	}
}

// TestMissingReported: a user leaves a backend while a direct message to
// them is in flight there; the handler reports them Missing and
// Switchboard delivers the message to the backend the user moved to.
func TestMissingReported(t *testing.T) {
	h := startHub(t, 0)
	ra, rc := newRecorder(), newRecorder()
	a := dial(t, []string{h.URL}, append(ra.opts(), WithAddress(backendURL(t)))...)
	c := dial(t, []string{h.URL}, append(rc.opts(), WithAddress(backendURL(t)))...)
	arrived, proceed := make(chan struct{}), make(chan struct{})
	b := dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithOnMessage(func(m Message) {
		close(arrived)
		<-proceed // bob moves meanwhile
		m.Missing("bob", "not-a-recipient")
	}))
	ctx := tctx(t)
	if err := b.Join(ctx, "bob"); err != nil {
		t.Fatal(err)
	}
	res, err := a.Send(ctx, []string{"bob"}, "in flight")
	if err != nil || !slices.Equal(res.Delivered, []string{"bob"}) {
		t.Fatalf("send: %+v %v", res, err)
	}
	waitChan(t, arrived, "the message at b")
	moveWhileHandled(t, a, b, c, "bob", proceed)
	if m := rc.next(t); m.ID != res.ID || string(m.Data) != `"in flight"` || !slices.Equal(m.To, []string{"bob"}) {
		t.Fatalf("redelivered %+v", m)
	}
}
