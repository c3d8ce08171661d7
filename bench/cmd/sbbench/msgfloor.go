package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// The floor sides of the messaging benchmark measure the least any side can
// spend: servers that only do the user-facing part of a direct message
// (read the user's dm, ack it, emit msg to the recipient) because every
// recipient is on the sender's own server (msgusers --local). No hub, no
// Redis, no second server: whatever architecture carries a message between
// servers adds to this. "floor" runs three bench/node/msg-ref-server.js
// with --redis none (socket.io@4.8.4, in-memory adapter); "floor-go" runs
// three `sbbench msgfloor` on our internal/sio server.

// floorUser is one logged-in user of a msgfloor server.
type floorUser struct {
	sock   *sio.Socket
	name   string // set once by login, under floorServer.mu
	quoted []byte // name as a JSON string
}

// floorServer holds the users logged in on one msgfloor process.
type floorServer struct {
	mu    sync.Mutex
	users map[string]*floorUser
	dms   atomic.Int64
}

var (
	floorOK       = sio.Message{Args: []json.RawMessage{json.RawMessage(`{"ok":true}`)}, Valid: true}
	floorBad      = sio.Message{Args: []json.RawMessage{json.RawMessage(`{"ok":false,"code":"BAD_REQUEST"}`)}, Valid: true}
	floorTaken    = sio.Message{Args: []json.RawMessage{json.RawMessage(`{"ok":false,"code":"NAME_TAKEN"}`)}, Valid: true}
	floorNotLocal = sio.Message{Args: []json.RawMessage{json.RawMessage(`{"ok":false,"code":"NOT_HERE"}`)}, Valid: true}
)

func (f *floorServer) login(s *sio.Socket, m sio.Message, ack sio.Ack) {
	u, _ := s.Data().(*floorUser)
	var name string
	if u == nil || len(m.Args) == 0 || json.Unmarshal(m.Args[0], &name) != nil || name == "" || len(name) > 64 {
		reply(ack, floorBad)
		return
	}
	f.mu.Lock()
	if u.name != "" || f.users[name] != nil {
		f.mu.Unlock()
		reply(ack, floorTaken)
		return
	}
	u.name = name
	u.quoted, _ = json.Marshal(name)
	f.users[name] = u
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{"ok": true, "name": name})
	reply(ack, sio.Message{Args: []json.RawMessage{b}, Valid: true})
}

// floorArg decodes a dm's or pub's argument {to?, text}: text must be a
// JSON string, kept as sent.
func floorArg(s *sio.Socket, m sio.Message) (u *floorUser, to string, text json.RawMessage, ok bool) {
	u, _ = s.Data().(*floorUser)
	var in struct {
		To   string          `json:"to"`
		Text json.RawMessage `json:"text"`
	}
	if u == nil || len(m.Args) == 0 || json.Unmarshal(m.Args[0], &in) != nil || len(in.Text) == 0 || in.Text[0] != '"' {
		return nil, "", nil, false
	}
	return u, in.To, in.Text, true
}

func (f *floorServer) dm(s *sio.Socket, m sio.Message, ack sio.Ack) {
	u, name, text, ok := floorArg(s, m)
	if !ok {
		reply(ack, floorBad)
		return
	}
	f.mu.Lock()
	from, to := u.quoted, f.users[name]
	f.mu.Unlock()
	if from == nil {
		reply(ack, floorBad)
		return
	}
	if to == nil {
		reply(ack, floorNotLocal) // the users lose it: the run fails, as it should
		return
	}
	f.dms.Add(1)
	b := appendFloorMsg(make([]byte, 0, 32+len(from)+len(text)), "dm", from, text)
	_ = to.sock.Emit("msg", sio.Message{Args: []json.RawMessage{b}, Valid: true})
	reply(ack, floorOK)
}

func reply(ack sio.Ack, m sio.Message) {
	if ack != nil {
		_ = ack(m)
	}
}

// pub emits msg to every other user of this server (all of them on one
// server; the floor sides measure dm only).
func (f *floorServer) pub(s *sio.Socket, m sio.Message, ack sio.Ack) {
	u, _, text, ok := floorArg(s, m)
	if !ok {
		reply(ack, floorBad)
		return
	}
	f.mu.Lock()
	from := u.quoted
	to := make([]*floorUser, 0, len(f.users))
	for _, v := range f.users {
		if v != u {
			to = append(to, v)
		}
	}
	f.mu.Unlock()
	if from == nil {
		reply(ack, floorBad)
		return
	}
	b := appendFloorMsg(nil, "pub", from, text)
	for _, v := range to {
		_ = v.sock.Emit("msg", sio.Message{Args: []json.RawMessage{b}, Valid: true})
	}
	reply(ack, floorOK)
}

// appendFloorMsg appends the msg object {kind, from, text}; from and text
// are JSON strings.
func appendFloorMsg(b []byte, kind string, from, text json.RawMessage) []byte {
	b = append(b, `{"kind":"`...)
	b = append(b, kind...)
	b = append(b, `","from":`...)
	b = append(b, from...)
	b = append(b, `,"text":`...)
	b = append(b, text...)
	return append(b, '}')
}

// newFloor returns a floor server's Socket.IO server and its handler
// (/socket.io/ and /_stats).
func newFloor(logger *slog.Logger) (*sio.Server, http.Handler) {
	f := &floorServer{users: map[string]*floorUser{}}
	srv := sio.NewServer(sio.Config{}, logger)
	nsp := srv.Of("/")
	nsp.OnConnection(func(s *sio.Socket) { s.SetData(&floorUser{sock: s}) })
	nsp.OnDisconnect(func(s *sio.Socket, _ string) {
		u, _ := s.Data().(*floorUser)
		if u == nil {
			return
		}
		f.mu.Lock()
		if u.name != "" && f.users[u.name] == u {
			delete(f.users, u.name)
		}
		f.mu.Unlock()
	})
	nsp.On("login", f.login)
	nsp.On("dm", f.dm)
	nsp.On("pub", f.pub)
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.HandleFunc("/_stats", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"dms":%d}`, f.dms.Load())
	})
	return srv, mux
}

// cmdMsgFloor is `sbbench msgfloor`: one floor-go server (see above).
func cmdMsgFloor(args []string) error {
	fs := flag.NewFlagSet("msgfloor", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8341", "listen address")
	maxRun := fs.Duration("max", 2*time.Hour, "exit after this long (safety bound)")
	fs.Parse(args)
	if err := sioReady(); err != nil {
		return err
	}
	srv, h := newFloor(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	return serveBounded(*addr, h, *maxRun, "", func() { srv.Close() })
}
