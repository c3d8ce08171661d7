package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/switchboard-lb/switchboard/client"
	"github.com/switchboard-lb/switchboard/internal/sio"
)

// Limits, as examples/chat/backend.js.
const (
	maxName    = 64   // names and rooms: 1..64 characters
	maxText    = 2000 // message text: 1..2000 characters
	maxRooms   = 32   // rooms per user
	hubTimeout = 5 * time.Second
)

// user is one browser connection to this backend.
type user struct {
	sock  *sio.Socket
	name  string          // set once login succeeded; guarded by chat.mu
	rooms map[string]bool // guarded by chat.mu
}

// chat is the backend's state: who is connected to THIS process.
type chat struct {
	port int
	log  *slog.Logger
	hub  *client.Client  // set before the user server serves
	ctx  context.Context // ends at shutdown: bounds waiting for a send slot

	mu    sync.Mutex                // guards users, rooms and every user's name and rooms
	users map[string]*user          // name → user; reserved while its claim is pending
	rooms map[string]map[*user]bool // room → this backend's members
}

func newChat(ctx context.Context, port int, log *slog.Logger) *chat {
	return &chat{port: port, log: log, ctx: ctx, users: map[string]*user{}, rooms: map[string]map[*user]bool{}}
}

// failure is the {ok:false, code, message} answer of the page protocol.
type failure struct {
	OK      bool   `json:"ok"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Holder  string `json:"holder,omitempty"`
}

func fail(code, msg string) failure { return failure{Code: code, Message: msg} }

var (
	badName     = fail("INVALID_NAME", "names are 1..64 characters, no control characters")
	badText     = fail("BAD_REQUEST", "text must be a string of 1..2000 characters")
	notLoggedIn = fail("NOT_LOGGED_IN", "log in first")
	hubDown     = fail("HUB_UNAVAILABLE", "not connected to Switchboard right now; try again")
)

// validName returns the trimmed name, or "" if it is not a usable user or room name.
func validName(raw json.RawMessage) string {
	s, ok := plainString(raw)
	if !ok && json.Unmarshal(raw, &s) != nil {
		return ""
	}
	s = strings.TrimSpace(s)
	if s == "" || utf8.RuneCountInString(s) > maxName {
		return ""
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return ""
		}
	}
	return s
}

func validText(s string) bool { n := utf8.RuneCountInString(s); return n > 0 && n <= maxText }

// reply answers an event's ack (if the page asked for one) with v.
func reply(ack sio.Ack, v any) {
	if ack == nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"ok":false,"code":"INTERNAL","message":"internal error"}`)
	}
	_ = ack(sio.Args(b))
}

// replyJSON answers an event's ack with b, encoded JSON.
func replyJSON(ack sio.Ack, b []byte) {
	if ack != nil {
		_ = ack(sio.Args(b))
	}
}

// arg returns the event's first argument (JSON null when absent).
func arg(m sio.Message) json.RawMessage {
	if len(m.Args) == 0 {
		return json.RawMessage("null")
	}
	return m.Args[0]
}

// mount registers the page protocol on the user-facing namespace.
func (c *chat) mount(nsp *sio.Namespace) {
	nsp.OnConnection(func(s *sio.Socket) { s.SetData(&user{sock: s, rooms: map[string]bool{}}) })
	nsp.OnDisconnect(func(s *sio.Socket, _ string) {
		if u, _ := s.Data().(*user); u != nil {
			c.gone(u)
		}
	})
	on := func(event string, h func(u *user, a json.RawMessage, ack sio.Ack)) {
		nsp.On(event, func(s *sio.Socket, m sio.Message, ack sio.Ack) {
			if u, _ := s.Data().(*user); u != nil {
				h(u, arg(m), ack)
			}
		})
	}
	on("login", c.login)
	on("dm", c.dm)
	on("pub", c.pub)
	on("join", c.join)
	on("leave", c.leave)
	on("say", c.say)
}

func (c *chat) nameOf(u *user) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return u.name
}

func (c *chat) login(u *user, a json.RawMessage, ack sio.Ack) {
	name := validName(a)
	if name == "" {
		reply(ack, badName)
		return
	}
	c.mu.Lock()
	switch {
	case u.name != "":
		c.mu.Unlock()
		reply(ack, fail("ALREADY_LOGGED_IN", "you are "+u.name))
		return
	case c.users[name] != nil:
		c.mu.Unlock()
		reply(ack, fail("NAME_TAKEN", name+" is taken (on this backend)"))
		return
	case !c.hub.Connected():
		c.mu.Unlock()
		reply(ack, hubDown)
		return
	}
	c.users[name] = u // reserve locally so a second local login cannot race us
	c.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), hubTimeout)
	err := c.hub.Join(ctx, name)
	cancel()
	c.mu.Lock()
	if err != nil || !u.sock.Connected() {
		if c.users[name] == u {
			delete(c.users, name)
		}
		c.mu.Unlock()
		if err == nil { // the user left while we were asking
			c.release(name)
			reply(ack, fail("GONE", "disconnected"))
			return
		}
		c.log.Info("login refused", "user", name, "err", err)
		reply(ack, failureOf(err))
		return
	}
	u.name = name
	c.mu.Unlock()
	c.log.Info("logged in", "user", name)
	reply(ack, map[string]any{"ok": true, "name": name, "backend": c.port})
}

// failureOf turns an SDK error into the page's failure object.
func failureOf(err error) failure {
	var taken *client.NameTakenError
	var he *client.HubError
	switch {
	case errors.As(err, &taken):
		f := fail("NAME_TAKEN", taken.Error())
		f.Holder = taken.Holder
		return f
	case errors.As(err, &he):
		return fail(he.Code, he.Message)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, sio.ErrAckTimeout):
		return fail("HUB_TIMEOUT", "no answer from Switchboard")
	case errors.Is(err, client.ErrNotConnected):
		return hubDown
	}
	return fail("HUB_UNAVAILABLE", err.Error())
}

// send routes o through Switchboard and answers the page with the hub's
// result once it arrives. It does not wait for it: the user's next events
// are read meanwhile, and their messages are routed in the order sent
// (the SDK writes them in call order; the hub routes a connection's
// messages in order). The SDK bounds the messages awaiting an answer;
// past that bound this waits (backpressure on the user's connection).
func (c *chat) send(o client.Outgoing, ack sio.Ack) {
	err := c.hub.SendMessageAsync(c.ctx, o, func(res client.SendResult, err error) {
		if err != nil {
			reply(ack, failureOf(err))
			return
		}
		replyJSON(ack, appendSent(make([]byte, 0, 96), res))
	})
	if err != nil {
		reply(ack, failureOf(err))
	}
}

type textArg struct {
	To   json.RawMessage `json:"to"`
	Room json.RawMessage `json:"room"`
	Text *string         `json:"text"`

	textJSON []byte // Text as a JSON string token
}

func parseText(a json.RawMessage) (textArg, bool) {
	t, ok := scanTextArg(a)
	if !ok {
		t = textArg{}
		if json.Unmarshal(a, &t) != nil {
			return t, false
		}
		if t.Text != nil {
			t.textJSON, _ = json.Marshal(*t.Text)
		}
	}
	if t.Text == nil || !validText(*t.Text) {
		return t, false
	}
	return t, true
}

// textData is the hub payload of a chat line: {"text": …}.
func textData(t textArg) json.RawMessage {
	b := make([]byte, 0, len(t.textJSON)+10)
	b = append(b, `{"text":`...)
	b = append(b, t.textJSON...)
	return append(b, '}')
}

func (c *chat) dm(u *user, a json.RawMessage, ack sio.Ack) {
	from := c.nameOf(u)
	if from == "" {
		reply(ack, notLoggedIn)
		return
	}
	t, textOK := parseText(a)
	to := validName(t.To)
	if to == "" {
		reply(ack, badName)
		return
	}
	if !textOK {
		reply(ack, badText)
		return
	}
	// Always through Switchboard, even for a user on this backend: one path,
	// and the answer says delivered, held or unknown.
	c.send(client.Outgoing{To: []string{to}, From: from, Data: textData(t)}, ack)
}

func (c *chat) pub(u *user, a json.RawMessage, ack sio.Ack) {
	from := c.nameOf(u)
	if from == "" {
		reply(ack, notLoggedIn)
		return
	}
	t, ok := parseText(a)
	if !ok {
		reply(ack, badText)
		return
	}
	// Switchboard never echoes a public message to its sender: local users
	// get it from us.
	c.deliverLocal("", appendMsg(nil, "pub", from, "", t.textJSON, "local", ""), u)
	c.send(client.Outgoing{From: from, Data: textData(t)}, ack)
}

func (c *chat) join(u *user, a json.RawMessage, ack sio.Ack) {
	room := validName(a)
	c.mu.Lock()
	switch {
	case u.name == "":
		c.mu.Unlock()
		reply(ack, notLoggedIn)
		return
	case room == "":
		c.mu.Unlock()
		reply(ack, badName)
		return
	case !u.rooms[room] && len(u.rooms) >= maxRooms:
		c.mu.Unlock()
		reply(ack, fail("TOO_MANY_ROOMS", "at most 32 rooms"))
		return
	}
	u.rooms[room] = true
	first := c.rooms[room] == nil
	if first {
		c.rooms[room] = map[*user]bool{}
	}
	c.rooms[room][u] = true
	c.mu.Unlock()
	if first { // the first local member makes this backend a room member
		c.hubRoom(room, true)
	}
	reply(ack, map[string]any{"ok": true, "room": room})
}

func (c *chat) leave(u *user, a json.RawMessage, ack sio.Ack) {
	room := validName(a)
	c.mu.Lock()
	member := room != "" && u.rooms[room]
	c.mu.Unlock()
	if !member {
		reply(ack, fail("NOT_MEMBER", "not in that room"))
		return
	}
	c.leaveRoom(u, room)
	reply(ack, map[string]any{"ok": true, "room": room})
}

func (c *chat) say(u *user, a json.RawMessage, ack sio.Ack) {
	from := c.nameOf(u)
	if from == "" {
		reply(ack, notLoggedIn)
		return
	}
	t, textOK := parseText(a)
	room := validName(t.Room)
	c.mu.Lock()
	member := room != "" && u.rooms[room]
	c.mu.Unlock()
	if !member {
		reply(ack, fail("NOT_MEMBER", "join the room first"))
		return
	}
	if !textOK {
		reply(ack, badText)
		return
	}
	c.deliverLocal(room, appendMsg(nil, "room", from, room, t.textJSON, "local", ""), u)
	c.send(client.Outgoing{Room: room, From: from, Data: textData(t)}, ack)
}

// gone cleans up after a page disconnected: its rooms, then its name.
func (c *chat) gone(u *user) {
	c.mu.Lock()
	rooms := make([]string, 0, len(u.rooms))
	for r := range u.rooms {
		rooms = append(rooms, r)
	}
	name := u.name
	mine := name != "" && c.users[name] == u
	if mine {
		delete(c.users, name)
	}
	c.mu.Unlock()
	for _, r := range rooms {
		c.leaveRoom(u, r)
	}
	if mine {
		c.release(name)
		c.log.Info("left", "user", name)
	}
}

// release gives a name back to Switchboard (while disconnected, the SDK
// just stops holding it: the hub lets it expire).
func (c *chat) release(name string) {
	ctx, cancel := context.WithTimeout(context.Background(), hubTimeout)
	defer cancel()
	if err := c.hub.Leave(ctx, name); err != nil {
		c.log.Warn("leave_subs", "user", name, "err", err)
	}
}

func (c *chat) leaveRoom(u *user, room string) {
	c.mu.Lock()
	delete(u.rooms, room)
	members := c.rooms[room]
	delete(members, u)
	last := members != nil && len(members) == 0
	if last {
		delete(c.rooms, room)
	}
	c.mu.Unlock()
	if last {
		c.hubRoom(room, false)
	}
}

func (c *chat) hubRoom(room string, join bool) {
	ctx, cancel := context.WithTimeout(context.Background(), hubTimeout)
	defer cancel()
	var err error
	if join {
		err = c.hub.JoinRoom(ctx, room)
	} else {
		err = c.hub.LeaveRoom(ctx, room)
	}
	if err != nil {
		c.log.Warn("room", "room", room, "join", join, "err", err)
	}
}

// deliverLocal sends m to this backend's users: a room's members, or
// everyone (room ""), except skip. m is the encoded `msg` object.
func (c *chat) deliverLocal(room string, m []byte, skip *user) {
	enc, err := sio.Encode("/", "msg", sio.Args(m))
	if err != nil {
		return
	}
	c.mu.Lock()
	var targets []*user
	if room == "" {
		for _, u := range c.users {
			if u.name != "" && u != skip {
				targets = append(targets, u)
			}
		}
	} else {
		for u := range c.rooms[room] {
			if u.name != "" && u != skip {
				targets = append(targets, u)
			}
		}
	}
	c.mu.Unlock()
	for _, u := range targets {
		_ = u.sock.Send(enc)
	}
}

// onHubMessage relays a message Switchboard routed here to the users it is for.
// The text is relayed as the JSON string token it arrived as (a chat
// line's {"text": …}); other payloads are shown as their text or JSON.
func (c *chat) onHubMessage(m client.Message) {
	text, ok := textToken(m.Data)
	if !ok {
		var d struct {
			Text *string `json:"text"`
		}
		s := ""
		if json.Unmarshal(m.Data, &d) == nil && d.Text != nil {
			s = *d.Text
		} else if json.Unmarshal(m.Data, &s) != nil {
			s = string(m.Data)
		}
		text, _ = json.Marshal(s)
	}
	switch m.Kind() {
	case client.KindDirect:
		var b []byte
		for _, name := range m.To {
			c.mu.Lock()
			u := c.users[name]
			ok := u != nil && u.name == name
			c.mu.Unlock()
			if !ok {
				// The user left or moved a moment ago: Switchboard finds them
				// again (their new backend, or their mailbox).
				c.log.Info("message for a user not here: reported missing", "id", m.ID, "user", name)
				m.Missing(name)
				continue
			}
			if b == nil {
				b = appendMsg(make([]byte, 0, 64+len(m.From)+len(text)+len(m.Backend)), "dm", m.From, "", text, m.Backend, m.ID)
			}
			_ = u.sock.Emit("msg", sio.Args(b))
		}
	case client.KindRoom:
		c.deliverLocal(m.Room, appendMsg(nil, "room", m.From, m.Room, text, m.Backend, m.ID), nil)
	default:
		c.deliverLocal("", appendMsg(nil, "pub", m.From, "", text, m.Backend, m.ID), nil)
	}
}

// onNameLost: someone else took a user's name while Switchboard was away:
// tell the user and let them go (as backend.js does).
func (c *chat) onNameLost(name, holder string) {
	c.mu.Lock()
	u := c.users[name]
	if u != nil && u.name == name {
		delete(c.users, name)
		u.name = ""
	} else {
		u = nil
	}
	c.mu.Unlock()
	if u == nil {
		return
	}
	text := "your name " + name + " was taken while the server was away"
	if holder != "" {
		text += " (now on " + holder + ")"
	}
	b, _ := json.Marshal(map[string]string{"text": text})
	_ = u.sock.Emit("notice", sio.Args(b))
	u.sock.Disconnect("")
}
