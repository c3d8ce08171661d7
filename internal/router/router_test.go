package router_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

// original builds the original README's table: sadman and alif on :3001,
// ihsan on :3002, ahsan and baki on :3003.
func original(t *testing.T, cfg router.Config) (*hub, map[string]*fakeSession, map[string]*fakeSession) {
	t.Helper()
	h := newHub(t, cfg)
	backends := map[string]*fakeSession{}
	for _, port := range []string{"3001", "3002", "3003"} {
		s := newFake("s"+port, "http://127.0.0.1:"+port)
		backends[port] = s
		h.register(t, s)
	}
	users := map[string]*fakeSession{
		"sadman": backends["3001"], "alif": backends["3001"], "ihsan": backends["3002"],
		"ahsan": backends["3003"], "baki": backends["3003"],
	}
	for _, u := range []string{"sadman", "alif", "ihsan", "ahsan", "baki"} {
		if prev, _ := h.claim(t, users[u], u); prev != (engine.Holder{}) {
			t.Fatalf("claim %s: prev = %+v", u, prev)
		}
	}
	return h, backends, users
}

// TestOriginalTable: the original's table made true — every ordered pair of
// the five users exchanges a direct message; a public message from each
// backend reaches every other backend and never its sender.
func TestOriginalTable(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{NodeID: "n1"})
	names := []string{"sadman", "alif", "ihsan", "ahsan", "baki"}
	for _, from := range names {
		for _, to := range names {
			if from == to {
				continue
			}
			res := h.route(t, users[from], router.Message{To: []string{to}, From: from, Data: data(`{"text":"%s->%s"}`, from, to)})
			if !slices.Equal(res.Delivered, []string{to}) || len(res.Held)+len(res.Unknown)+len(res.Dropped) != 0 || res.Sessions != 1 {
				t.Fatalf("%s->%s: %+v", from, to, res)
			}
			got := users[to].take()
			if len(got) != 1 {
				t.Fatalf("%s->%s: receiver got %d deliveries", from, to, len(got))
			}
			d := got[0]
			if d.ID != res.ID || d.From != from || d.Backend != users[from].addr || !slices.Equal(d.To, []string{to}) ||
				d.Room != "" || string(d.Data) != fmt.Sprintf(`{"text":"%s->%s"}`, from, to) {
				t.Fatalf("%s->%s: delivery %+v", from, to, d)
			}
			for _, b := range backends {
				if b != users[to] && len(b.take()) != 0 {
					t.Fatalf("%s->%s: %s got a copy", from, to, b.id)
				}
			}
		}
	}
	for port, sender := range backends {
		res := h.route(t, sender, router.Message{Data: data(`"hello from %s"`, port)})
		if res.Sessions != 2 || len(res.Delivered) != 0 {
			t.Fatalf("public from %s: %+v", port, res)
		}
		var shared *router.Delivery
		for _, b := range backends {
			got := b.take()
			if b == sender {
				if len(got) != 0 {
					t.Fatalf("public from %s came back to its sender", port)
				}
				continue
			}
			if len(got) != 1 || got[0].ID != res.ID || got[0].Backend != sender.addr || got[0].To != nil {
				t.Fatalf("public from %s at %s: %+v", port, b.id, got)
			}
			if shared == nil {
				shared = got[0]
			} else if shared != got[0] {
				t.Fatalf("public from %s: receivers got different *Delivery (not encode-once)", port)
			}
		}
	}
	if st := h.Stats(); st.Routed != 23 || st.Deliveries != 26 || st.Sessions != 3 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDirectGrouping: several recipients on one backend get one Delivery
// listing them; duplicates are ignored; unknown names are reported; a name
// the sender holds itself is delivered to it.
func TestDirectGrouping(t *testing.T) {
	t.Parallel()
	h, backends, _ := original(t, router.Config{})
	to := []string{"sadman", "ihsan", "alif", "nobody", "sadman", "baki"}
	res := h.route(t, backends["3003"], router.Message{To: to, Data: data(`1`)})
	// Deliveries and the result may share to's elements, never write them.
	if !slices.Equal(to, []string{"sadman", "ihsan", "alif", "nobody", "sadman", "baki"}) {
		t.Fatalf("the message's to list changed: %v", to)
	}
	if !slices.Equal(res.Unknown, []string{"nobody"}) || res.Sessions != 3 ||
		!slices.Equal(sorted(res.Delivered), []string{"alif", "baki", "ihsan", "sadman"}) {
		t.Fatalf("result %+v", res)
	}
	got := backends["3001"].take()
	if len(got) != 1 || !slices.Equal(got[0].To, []string{"sadman", "alif"}) {
		t.Fatalf("3001 got %+v, want one delivery to [sadman alif]", got)
	}
	if got := backends["3002"].take(); len(got) != 1 || !slices.Equal(got[0].To, []string{"ihsan"}) {
		t.Fatalf("3002 got %+v", got)
	}
	// baki is held by the sender itself: delivered to it.
	if got := backends["3003"].take(); len(got) != 1 || !slices.Equal(got[0].To, []string{"baki"}) {
		t.Fatalf("3003 (sender) got %+v, want its own baki", got)
	}
	if res := h.route(t, backends["3001"], router.Message{To: []string{"alif"}, Data: data(`2`)}); !slices.Equal(res.Delivered, []string{"alif"}) {
		t.Fatalf("self-delivery: %+v", res)
	}
	if got := backends["3001"].take(); len(got) != 1 {
		t.Fatalf("self-delivery: sender got %d", len(got))
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func TestConcurrentClaims(t *testing.T) {
	t.Parallel()
	h := newHub(t, router.Config{})
	var ss []*fakeSession
	for i := range 3 {
		s := newFake(fmt.Sprintf("b%d", i), fmt.Sprintf("http://127.0.0.1:%d", 3001+i))
		h.register(t, s)
		ss = append(ss, s)
	}
	for round := range 30 {
		name := "user" + strconv.Itoa(round)
		errs := make([]error, len(ss))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, s := range ss {
			wg.Go(func() {
				<-start
				_, _, errs[i] = h.Claim(t.Context(), s, name)
			})
		}
		close(start)
		wg.Wait()
		winner := -1
		for i, err := range errs {
			if err == nil {
				if winner >= 0 {
					t.Fatalf("%s: two winners", name)
				}
				winner = i
			}
		}
		if winner < 0 {
			t.Fatalf("%s: no winner: %v", name, errs)
		}
		for i, err := range errs {
			if i == winner {
				continue
			}
			var te *engine.TakenError
			if !errors.As(err, &te) || engine.Code(err) != "NAME_TAKEN" || h.HolderAddress(te.Holder) != ss[winner].addr {
				t.Fatalf("%s: loser %d: %v", name, i, err)
			}
		}
		exists, addr, _, err := h.Lookup(t.Context(), name)
		if err != nil || !exists || addr != ss[winner].addr {
			t.Fatalf("Lookup(%s) = %v %q %v", name, exists, addr, err)
		}
	}
}

func TestReleaseByNonHolder(t *testing.T) {
	t.Parallel()
	h, backends, _ := original(t, router.Config{})
	err := h.Release(t.Context(), backends["3001"], "ihsan")
	if !errors.Is(err, engine.ErrNotHolder) || engine.Code(err) != "NOT_HOLDER" {
		t.Fatalf("Release by non-holder = %v", err)
	}
	if exists, addr, _, _ := h.Lookup(t.Context(), "ihsan"); !exists || addr != backends["3002"].addr {
		t.Fatalf("ihsan after a refused release: %v %q", exists, addr)
	}
	if err := h.Release(t.Context(), backends["3002"], "ihsan"); err != nil {
		t.Fatal(err)
	}
	if exists, _, _, _ := h.Lookup(t.Context(), "ihsan"); exists {
		t.Fatal("ihsan still exists after release")
	}
	if err := h.Release(t.Context(), backends["3002"], "ihsan"); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("second release = %v", err)
	}
}

// TestOrphanMailboxFlushBeforeNewer: messages for the names of a backend
// that went down are held; the session that reclaims a name gets them in
// order after the ack (flush), and a message routed between the claim and
// the flush arrives after them.
func TestOrphanMailboxFlushBeforeNewer(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{})
	orphaned, err := h.Unregister(t.Context(), "s3003", "transport close")
	if err != nil || !slices.Equal(sorted(orphaned), []string{"ahsan", "baki"}) {
		t.Fatalf("Unregister = %v, %v", orphaned, err)
	}
	for i := range 5 {
		res := h.route(t, users["sadman"], router.Message{To: []string{"ahsan"}, From: "sadman", Data: data(`%d`, i)})
		if !slices.Equal(res.Held, []string{"ahsan"}) || len(res.Delivered) != 0 {
			t.Fatalf("message %d to orphaned ahsan: %+v", i, res)
		}
	}
	if exists, addr, hd, _ := h.Lookup(t.Context(), "ahsan"); !exists || addr != "" || !hd.Orphaned {
		t.Fatalf("Lookup(ahsan) while orphaned = %v %q %+v, want (true, \"\")", exists, addr, hd)
	}
	// Public messages do not go to the gone backend.
	if res := h.route(t, backends["3001"], router.Message{Data: data(`"pub"`)}); res.Sessions != 1 {
		t.Fatalf("public after unregister: %+v", res)
	}
	backends["3002"].take()

	// ahsan reconnects through 3002.
	s2 := backends["3002"]
	prev, flush := h.claim(t, s2, "ahsan")
	if !prev.Orphaned || prev.Backend != "s3003" {
		t.Fatalf("reclaim prev = %+v", prev)
	}
	// A newer message, routed after the claim but before the flush, and a
	// message to ihsan on the same session: both must wait.
	res := h.route(t, users["alif"], router.Message{To: []string{"ahsan"}, Data: data(`"newer"`)})
	if !slices.Equal(res.Delivered, []string{"ahsan"}) {
		t.Fatalf("newer: %+v", res)
	}
	if got := s2.take(); len(got) != 0 {
		t.Fatalf("delivered before the flush: %+v", got)
	}
	flush()
	flush() // idempotent
	var got []string
	for _, d := range s2.take() {
		got = append(got, string(d.Data))
		if !slices.Equal(d.To, []string{"ahsan"}) {
			t.Fatalf("flushed delivery To = %v", d.To)
		}
	}
	if want := []string{"0", "1", "2", "3", "4", `"newer"`}; !slices.Equal(got, want) {
		t.Fatalf("ahsan's new session got %v, want %v", got, want)
	}
	// baki is still orphaned; its holder is gone.
	if res := h.route(t, users["ihsan"], router.Message{To: []string{"baki"}, Data: data(`"b"`)}); !slices.Equal(res.Held, []string{"baki"}) {
		t.Fatalf("baki: %+v", res)
	}
	if st := h.Stats(); st.Held != 6 || st.Flushed != 5 || st.MailboxMsgs != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestFlushOrderUnderConcurrentSenders: a sender streams numbered messages
// to an orphaned name while another session reclaims it; the new holder
// receives every message exactly once, in order.
func TestFlushOrderUnderConcurrentSenders(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{MailboxMessages: 10000, MailboxBytes: 1 << 20})
	if _, err := h.Unregister(t.Context(), "s3003", "ping timeout"); err != nil {
		t.Fatal(err)
	}
	const n = 2000
	halfway := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		for i := range n {
			if i == n/4 {
				close(halfway)
			}
			if _, err := h.Route(context.Background(), users["sadman"], router.Message{To: []string{"ahsan"}, Data: data(`%d`, i)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	<-halfway
	_, flush := h.claim(t, backends["3002"], "ahsan")
	flush()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	got := backends["3002"].take()
	if len(got) != n {
		t.Fatalf("got %d messages, want %d", len(got), n)
	}
	for i, d := range got {
		if string(d.Data) != strconv.Itoa(i) {
			t.Fatalf("message %d is %s", i, d.Data)
		}
	}
}

func TestMailboxLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		cfg     router.Config
		send    []struct{ to, data string }
		want    map[string][]string // what a reclaim flushes per name
		dropped uint64
		tooBig  int // results with Dropped
	}{
		{
			name: "per-name count",
			cfg:  router.Config{MailboxMessages: 3},
			send: []struct{ to, data string }{{"ahsan", "1"}, {"ahsan", "2"}, {"ahsan", "3"}, {"ahsan", "4"}, {"ahsan", "5"}},
			want: map[string][]string{"ahsan": {"3", "4", "5"}}, dropped: 2,
		},
		{
			name: "per-name bytes",
			cfg:  router.Config{MailboxBytes: 10},
			send: []struct{ to, data string }{{"ahsan", "1111"}, {"ahsan", "2222"}, {"ahsan", "3333"}, {"baki", "4444"}},
			want: map[string][]string{"ahsan": {"2222", "3333"}, "baki": {"4444"}}, dropped: 1,
		},
		{
			name: "total bytes, oldest of all names first",
			cfg:  router.Config{MailboxBytes: 100, MailboxTotalBytes: 20},
			send: []struct{ to, data string }{{"ahsan", "a1a1a1a1"}, {"baki", "b1b1b1b1"}, {"ahsan", "a2a2a2a2"}, {"baki", "b2b2b2b2"}},
			want: map[string][]string{"ahsan": {"a2a2a2a2"}, "baki": {"b2b2b2b2"}}, dropped: 2,
		},
		{
			name: "total messages, oldest of all names first",
			cfg:  router.Config{MailboxTotalMessages: 3},
			send: []struct{ to, data string }{{"ahsan", "a1"}, {"baki", "b1"}, {"ahsan", "a2"}, {"baki", "b2"}},
			want: map[string][]string{"ahsan": {"a2"}, "baki": {"b1", "b2"}}, dropped: 1,
		},
		{
			name: "one message over the per-name bytes",
			cfg:  router.Config{MailboxBytes: 4},
			send: []struct{ to, data string }{{"ahsan", "12"}, {"ahsan", "123456"}},
			want: map[string][]string{"ahsan": {"12"}}, dropped: 1, tooBig: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, backends, users := original(t, tt.cfg)
			if _, err := h.Unregister(t.Context(), "s3003", "transport close"); err != nil {
				t.Fatal(err)
			}
			tooBig := 0
			for _, m := range tt.send {
				res := h.route(t, users["ihsan"], router.Message{To: []string{m.to}, Data: []byte(m.data)})
				tooBig += len(res.Dropped)
			}
			if tooBig != tt.tooBig {
				t.Fatalf("%d results reported Dropped, want %d", tooBig, tt.tooBig)
			}
			if st := h.Stats(); st.DroppedFull != tt.dropped {
				t.Fatalf("DroppedFull = %d, want %d", st.DroppedFull, tt.dropped)
			}
			for _, name := range []string{"ahsan", "baki"} {
				_, flush := h.claim(t, backends["3001"], name)
				flush()
				var got []string
				for _, d := range backends["3001"].take() {
					got = append(got, string(d.Data))
				}
				if !slices.Equal(got, tt.want[name]) {
					t.Fatalf("%s flushed %v, want %v", name, got, tt.want[name])
				}
			}
			if st := h.Stats(); st.MailboxMsgs != 0 || st.MailboxBytes != 0 || st.MailboxNames != 0 {
				t.Fatalf("mailboxes not empty after the flushes: %+v", st)
			}
		})
	}
}

// TestRooms: a room's messages reach only the sessions that joined it,
// never the sender, and one *Delivery is shared by the receivers.
func TestRooms(t *testing.T) {
	t.Parallel()
	h, backends, _ := original(t, router.Config{})
	ctx := t.Context()
	for _, port := range []string{"3001", "3002", "3003"} {
		if err := h.JoinRoom(ctx, backends[port], "lobby"); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.JoinRoom(ctx, backends["3003"], "games"); err != nil {
		t.Fatal(err)
	}
	res := h.route(t, backends["3001"], router.Message{Room: "lobby", From: "sadman", Data: data(`"hi lobby"`)})
	if res.Sessions != 2 {
		t.Fatalf("lobby: %+v", res)
	}
	a, b := backends["3002"].take(), backends["3003"].take()
	if len(a) != 1 || len(b) != 1 || a[0] != b[0] || a[0].Room != "lobby" || a[0].From != "sadman" {
		t.Fatalf("lobby deliveries: %+v %+v", a, b)
	}
	if len(backends["3001"].take()) != 0 {
		t.Fatal("room message came back to its sender")
	}
	res = h.route(t, backends["3001"], router.Message{Room: "games", Data: data(`1`)})
	if res.Sessions != 1 || len(backends["3002"].take()) != 0 || len(backends["3003"].take()) != 1 {
		t.Fatalf("games (3001 not a member may still send): %+v", res)
	}
	if err := h.LeaveRoom(ctx, backends["3002"], "lobby"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Unregister(ctx, "s3003", "transport close"); err != nil {
		t.Fatal(err)
	}
	if res := h.route(t, backends["3001"], router.Message{Room: "lobby", Data: data(`2`)}); res.Sessions != 0 {
		t.Fatalf("lobby after leave and unregister: %+v", res)
	}
	if res := h.route(t, backends["3002"], router.Message{Room: "empty", Data: data(`3`)}); res.Sessions != 0 {
		t.Fatalf("empty room: %+v", res)
	}
}

// TestGraceExpiry: after the grace period the name is free and what was
// left in its mailbox is dropped and counted.
func TestGraceExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h, backends, users := original(t, router.Config{Grace: 30 * time.Second})
		if _, err := h.Unregister(t.Context(), "s3003", "transport close"); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			h.route(t, users["sadman"], router.Message{To: []string{"ahsan"}, Data: data(`%d`, i)})
		}
		time.Sleep(29 * time.Second)
		synctest.Wait()
		if st := h.Stats(); st.DroppedExpired != 0 || st.MailboxMsgs != 3 {
			t.Fatalf("before the grace ended: %+v", st)
		}
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if st := h.Stats(); st.DroppedExpired != 3 || st.MailboxMsgs != 0 || st.MailboxNames != 0 {
			t.Fatalf("after the grace ended: %+v", st)
		}
		if exists, _, _, _ := h.Lookup(t.Context(), "ahsan"); exists {
			t.Fatal("ahsan still exists after the grace")
		}
		if res := h.route(t, users["sadman"], router.Message{To: []string{"ahsan"}, Data: data(`9`)}); !slices.Equal(res.Unknown, []string{"ahsan"}) {
			t.Fatalf("after expiry: %+v", res)
		}
		prev, flush := h.claim(t, backends["3001"], "ahsan")
		flush()
		if prev != (engine.Holder{}) || len(backends["3001"].take()) != 0 {
			t.Fatalf("claim after expiry: prev %+v", prev)
		}
	})
}

// TestDeliverFailureHolds: a direct message whose receiving session fails is
// kept for the name, and reaches the user once it reconnects elsewhere.
func TestDeliverFailureHolds(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{})
	backends["3002"].fail.Store(true)
	res := h.route(t, users["sadman"], router.Message{To: []string{"ihsan", "alif"}, Data: data(`"x"`)})
	if !slices.Equal(res.Held, []string{"ihsan"}) || !slices.Equal(res.Delivered, []string{"alif"}) {
		t.Fatalf("result %+v", res)
	}
	if _, err := h.Unregister(t.Context(), "s3002", "slow consumer"); err != nil {
		t.Fatal(err)
	}
	_, flush := h.claim(t, backends["3003"], "ihsan")
	flush()
	if got := backends["3003"].take(); len(got) != 1 || string(got[0].Data) != `"x"` {
		t.Fatalf("reconnected ihsan got %+v", got)
	}
}

// TestFlushToFailingSession: the claimer dies during its flush; the rest of
// the mailbox is kept for the next claim, in order.
func TestFlushToFailingSession(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{})
	if _, err := h.Unregister(t.Context(), "s3003", "transport close"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		h.route(t, users["ihsan"], router.Message{To: []string{"baki"}, Data: data(`%d`, i)})
	}
	_, flush := h.claim(t, backends["3001"], "baki")
	backends["3001"].fail.Store(true)
	h.route(t, users["ihsan"], router.Message{To: []string{"baki"}, Data: data(`3`)}) // queued behind the flush
	flush()
	if _, err := h.Unregister(t.Context(), "s3001", "transport close"); err != nil {
		t.Fatal(err)
	}
	_, flush = h.claim(t, backends["3002"], "baki")
	flush()
	var got []string
	for _, d := range backends["3002"].take() {
		got = append(got, string(d.Data))
	}
	if !slices.Equal(got, []string{"0", "1", "2", "3"}) {
		t.Fatalf("second claimer got %v", got)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	h, backends, _ := original(t, router.Config{MaxNameBytes: 8, MaxRecipients: 2})
	stranger := newFake("nobody", "http://127.0.0.1:4000")
	ctx := t.Context()
	s := backends["3001"]
	tests := []struct {
		name string
		call func() error
		code string
	}{
		{"route unregistered", func() error { _, err := h.Route(ctx, stranger, router.Message{}); return err }, "NOT_REGISTERED"},
		{"claim unregistered", func() error { _, _, err := h.Claim(ctx, stranger, "x"); return err }, "NOT_REGISTERED"},
		{"both to and room", func() error {
			_, err := h.Route(ctx, s, router.Message{To: []string{"a"}, Room: "r"})
			return err
		}, "BAD_MESSAGE"},
		{"too many recipients", func() error {
			_, err := h.Route(ctx, s, router.Message{To: []string{"a", "b", "c"}})
			return err
		}, "BAD_MESSAGE"},
		{"empty name", func() error { _, _, err := h.Claim(ctx, s, ""); return err }, "INVALID_NAME"},
		{"long name", func() error { _, _, err := h.Claim(ctx, s, "123456789"); return err }, "INVALID_NAME"},
		{"control char", func() error { _, _, err := h.Claim(ctx, s, "a\nb"); return err }, "INVALID_NAME"},
		{"not utf8", func() error { _, _, err := h.Claim(ctx, s, "a\xffb"); return err }, "INVALID_NAME"},
		{"bad recipient", func() error { _, err := h.Route(ctx, s, router.Message{To: []string{"\x00"}}); return err }, "INVALID_NAME"},
		{"bad from", func() error { _, err := h.Route(ctx, s, router.Message{To: []string{"ok"}, From: "a\nb"}); return err }, "INVALID_NAME"},
		{"bad room", func() error { return h.JoinRoom(ctx, s, "") }, "INVALID_NAME"},
		{"duplicate register", func() error { return h.Register(newFake("s3001", "x")) }, "DUPLICATE_SESSION"},
		{"unregister unknown", func() error { _, err := h.Unregister(ctx, "zzz", ""); return err }, "NOT_REGISTERED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := engine.Code(tt.call()); got != tt.code {
				t.Fatalf("code %q, want %q", got, tt.code)
			}
		})
	}
	if st := h.Stats(); st.Routed != 0 {
		t.Fatalf("a refused message was counted: %+v", st)
	}
}

func TestMessageIDs(t *testing.T) {
	t.Parallel()
	h, backends, _ := original(t, router.Config{NodeID: "node7"})
	seen := map[string]bool{}
	var ids []string
	for range 50 {
		res := h.route(t, backends["3001"], router.Message{Data: data(`0`)})
		if seen[res.ID] {
			t.Fatalf("duplicate ID %s", res.ID)
		}
		seen[res.ID] = true
		ids = append(ids, res.ID)
	}
	if ids[0] != "node7-1" || ids[49] != "node7-50" {
		t.Fatalf("ids %s .. %s", ids[0], ids[49])
	}
	if other := router.New(router.Config{}, nil, nil, nil); other.Config().NodeID == "" || other.Config().NodeID == "node7" {
		t.Fatal("default NodeID not random")
	}
}

func TestEncodeOnce(t *testing.T) {
	t.Parallel()
	d := &router.Delivery{ID: "x", Data: []byte(`1`)}
	calls := 0
	enc := func(d *router.Delivery) (*router.Encoded, error) {
		calls++
		return &router.Encoded{Value: append([]byte(`42["message",`), d.Data...)}, nil
	}
	e1, _ := d.Encode(enc)
	e2, _ := d.Encode(enc)
	if calls != 1 || e1 != e2 {
		t.Fatalf("enc called %d times", calls)
	}
	d2 := &router.Delivery{}
	if _, err := d2.Encode(func(*router.Delivery) (*router.Encoded, error) { return nil, errors.New("boom") }); err == nil {
		t.Fatal("error not returned")
	}
	if e, _ := d2.Encode(enc); e == nil {
		t.Fatal("a failed encode was cached")
	}
}

// TestRouteFromOutside: a nil sender (the HTTP message route) excludes
// nobody, has no backend address, and can leave a message for an orphan.
func TestRouteFromOutside(t *testing.T) {
	t.Parallel()
	h, backends, _ := original(t, router.Config{})
	if res := h.route(t, nil, router.Message{Data: data(`"all"`)}); res.Sessions != 3 {
		t.Fatalf("public from outside: %+v", res)
	}
	for _, b := range backends {
		if got := b.take(); len(got) != 1 || got[0].Backend != "" {
			t.Fatalf("%s got %+v", b.id, got)
		}
	}
	if _, err := h.Unregister(t.Context(), "s3002", "transport close"); err != nil {
		t.Fatal(err)
	}
	if res := h.route(t, nil, router.Message{To: []string{"ihsan"}, Data: data(`"post"`)}); !slices.Equal(res.Held, []string{"ihsan"}) {
		t.Fatalf("to orphan from outside: %+v", res)
	}
}
