package control_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// hub is a control channel on a loopback server, as app wires it.
type hub struct {
	URL string
	Reg *backend.Registry
	Rt  *router.Router
	Ch  *control.Channel
	Srv *httptest.Server
}

func newHub(tb testing.TB, cfg control.Config, rcfg router.Config) *hub {
	tb.Helper()
	reg := backend.NewRegistry()
	var rt *router.Router
	pres := memory.NewPresence(memory.PresenceConfig{OnExpire: func(name string, h engine.Holder) { rt.OnExpire(name, h) }})
	rooms := memory.NewRooms()
	rt = router.New(rcfg, pres, rooms, nil)
	if cfg.SIO.PingInterval == 0 {
		cfg.SIO.PingInterval = 300 * time.Millisecond
		cfg.SIO.PingTimeout = 300 * time.Millisecond
	}
	ch, err := control.New(cfg, reg, rt, nil)
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/list", ch)
	mux.Handle("/list/", ch)
	srv := httptest.NewServer(mux)
	h := &hub{URL: srv.URL, Reg: reg, Rt: rt, Ch: ch, Srv: srv}
	tb.Cleanup(func() {
		_ = ch.Close(context.Background())
		srv.Close()
		_ = pres.Close(context.Background())
		_ = rooms.Close(context.Background())
	})
	return h
}

// waitOrphaned waits until name's holding session has ended and its names
// are orphaned: the registry drops a session before the router orphans its
// names, so a registry count alone races with the orphaning.
func (h *hub) waitOrphaned(tb testing.TB, name string) {
	tb.Helper()
	testutil.WaitFor(tb, name+" orphaned", func() bool {
		_, _, holder, err := h.Rt.Lookup(context.Background(), name)
		return err == nil && holder.Orphaned
	})
}

// peer is a Go backend on the channel (our sio client).
type peer struct {
	C    *sio.Client
	S    *sio.ClientSocket
	Msgs chan json.RawMessage // `message` payloads
	Errs chan json.RawMessage // `error` payloads
	Pool chan string          // "server_joined <addr>" / "server_left <addr>"
	Disc chan string
}

func dialPeer(tb testing.TB, h *hub, auth string) *peer {
	tb.Helper()
	p := newPeer(tb, h, auth)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.C.Connect(ctx); err != nil {
		tb.Fatalf("connect: %v", err)
	}
	return p
}

func newPeer(tb testing.TB, h *hub, auth string) *peer {
	tb.Helper()
	c := sio.NewClient(h.URL, sio.ClientConfig{DialConfig: eio.DialConfig{Path: "/list"}})
	var authFn func() json.RawMessage
	if auth != "" {
		authFn = func() json.RawMessage { return json.RawMessage(auth) }
	}
	s := c.Socket("/list", authFn)
	p := &peer{C: c, S: s, Msgs: make(chan json.RawMessage, 1024), Errs: make(chan json.RawMessage, 64),
		Pool: make(chan string, 64), Disc: make(chan string, 4)}
	s.On("message", func(m sio.Message, _ sio.Ack) { p.Msgs <- m.Args[0] })
	s.On("error", func(m sio.Message, _ sio.Ack) { p.Errs <- m.Args[0] })
	for _, ev := range []string{"server_joined", "server_left"} {
		ev := ev
		s.On(ev, func(m sio.Message, _ sio.Ack) {
			var si control.ServerInfo
			_ = json.Unmarshal(m.Args[0], &si)
			p.Pool <- ev + " " + si.Address
		})
	}
	s.OnDisconnect(func(reason string, _ bool) {
		select {
		case p.Disc <- reason:
		default:
		}
	})
	tb.Cleanup(func() { _ = c.Close() })
	return p
}

// ackPeer connects a backend that announces addr with {ack:true}; its
// onMessage decides when (or whether) each direct message is acked.
func ackPeer(tb testing.TB, h *hub, addr string, onMessage func(sio.Message, sio.Ack)) *peer {
	tb.Helper()
	p := newPeer(tb, h, "")
	p.S.On("message", onMessage)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.C.Connect(ctx); err != nil {
		tb.Fatal(err)
	}
	if r := p.res(tb, "address", quote(addr), `{"ack":true}`); !r.OK {
		tb.Fatalf("address %s refused: %+v", addr, r)
	}
	return p
}

// senderAndHolder connects two registered backends: a on :3001, and b on
// :3002 holding names (a join_subs argument: a quoted name or an array).
func senderAndHolder(tb testing.TB, h *hub, names string) (a, b *peer) {
	tb.Helper()
	a = dialPeer(tb, h, "")
	a.register(tb, "http://127.0.0.1:3001")
	b = dialPeer(tb, h, "")
	b.register(tb, "http://127.0.0.1:3002")
	if r := b.res(tb, "join_subs", names); !r.OK {
		tb.Fatalf("join_subs %s: %+v", names, r)
	}
	return a, b
}

// call emits event with JSON args and returns the ack's arguments.
func (p *peer) call(tb testing.TB, event string, args ...string) []json.RawMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	raw := make([]json.RawMessage, len(args))
	for i, a := range args {
		raw[i] = json.RawMessage(a)
	}
	m, err := p.S.EmitWithAck(ctx, event, sio.Message{Args: raw})
	if err != nil {
		tb.Fatalf("%s: %v", event, err)
	}
	return m.Args
}

// result decodes an ack object.
type result struct {
	OK        bool     `json:"ok"`
	Code      string   `json:"code"`
	Message   string   `json:"message"`
	ID        string   `json:"id"`
	Address   string   `json:"address"`
	Holder    string   `json:"holder"`
	Joined    []string `json:"joined"`
	Left      []string `json:"left"`
	Delivered []string `json:"delivered"`
	Held      []string `json:"held"`
	Unknown   []string `json:"unknown"`
	InFlight  *int64   `json:"in_flight"`
	Tunnels   *int64   `json:"tunnels"`
}

func (p *peer) res(tb testing.TB, event string, args ...string) result {
	tb.Helper()
	a := p.call(tb, event, args...)
	if len(a) != 1 {
		tb.Fatalf("%s: ack has %d args", event, len(a))
	}
	var r result
	if err := json.Unmarshal(a[0], &r); err != nil {
		tb.Fatalf("%s: ack %s: %v", event, a[0], err)
	}
	return r
}

func (p *peer) register(tb testing.TB, addr string) result {
	tb.Helper()
	r := p.res(tb, "address", quote(addr))
	if !r.OK {
		tb.Fatalf("address %s refused: %s %s", addr, r.Code, r.Message)
	}
	return r
}

// delivery is a `message` event as a backend receives it.
type delivery struct {
	ID      string          `json:"id"`
	From    *string         `json:"from"`
	Backend string          `json:"backend"`
	To      []string        `json:"to"`
	Room    *string         `json:"room"`
	Data    json.RawMessage `json:"data"`
}

func (p *peer) next(tb testing.TB) delivery {
	tb.Helper()
	raw := recv(tb, p.Msgs, "a message")
	var d delivery
	if err := json.Unmarshal(raw, &d); err != nil {
		tb.Fatalf("message %s: %v", raw, err)
	}
	return d
}

// nextError returns the next `error` event the peer got.
func (p *peer) nextError(tb testing.TB) control.Failure {
	tb.Helper()
	raw := recv(tb, p.Errs, "an error event")
	var f control.Failure
	if err := json.Unmarshal(raw, &f); err != nil {
		tb.Fatalf("error event %s: %v", raw, err)
	}
	return f
}

// recv waits up to 10s (a deadlock guard) for a value on ch.
func recv[T any](tb testing.TB, ch <-chan T, what string) T {
	tb.Helper()
	return testutil.Recv(tb, ch, what, 10*time.Second)
}

// none asserts no message is pending after the given peer round-trip
// (an ack from the hub orders it after everything sent before).
func (p *peer) none(tb testing.TB) {
	tb.Helper()
	p.res(tb, "join_room", quote("__sync"))
	select {
	case raw := <-p.Msgs:
		tb.Fatalf("unexpected message %s", raw)
	default:
	}
}

func quote(s string) string { b, _ := json.Marshal(s); return string(b) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

var _ = strings.Contains
