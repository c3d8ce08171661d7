package router_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/router"
)

func payloads(ds []*router.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, string(d.Data))
	}
	return out
}

// TestTwoFlushesOnOneSession: a session reclaiming two orphaned names gets
// each mailbox, and messages routed meanwhile wait until both flushes ended.
func TestTwoFlushesOnOneSession(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{})
	if _, err := h.Unregister(t.Context(), "s3003", "transport close"); err != nil {
		t.Fatal(err)
	}
	h.route(t, users["sadman"], router.Message{To: []string{"ahsan"}, Data: data(`"a0"`)})
	h.route(t, users["sadman"], router.Message{To: []string{"baki"}, Data: data(`"b0"`)})
	s := backends["3002"]
	_, flushA := h.claim(t, s, "ahsan")
	_, flushB := h.claim(t, s, "baki")
	h.route(t, users["sadman"], router.Message{To: []string{"ahsan"}, Data: data(`"a1"`)})
	h.route(t, users["sadman"], router.Message{Data: data(`"public"`)})
	flushA()
	if got := payloads(s.take()); !slices.Equal(got, []string{`"a0"`}) {
		t.Fatalf("after the first flush: %v", got)
	}
	flushB()
	if got := payloads(s.take()); !slices.Equal(got, []string{`"b0"`, `"a1"`, `"public"`}) {
		t.Fatalf("after the second flush: %v", got)
	}
	h.route(t, users["sadman"], router.Message{To: []string{"ahsan"}, Data: data(`"a2"`)})
	if got := payloads(s.take()); !slices.Equal(got, []string{`"a2"`}) {
		t.Fatalf("after both flushes: %v", got)
	}
}

// TestUnregisterDuringFlush: the claimer's session ends before its flush
// ran; the mailbox and the messages queued behind it are kept, in order,
// for the next claim.
func TestUnregisterDuringFlush(t *testing.T) {
	t.Parallel()
	h, backends, users := original(t, router.Config{})
	if _, err := h.Unregister(t.Context(), "s3003", "transport close"); err != nil {
		t.Fatal(err)
	}
	h.route(t, users["ihsan"], router.Message{To: []string{"ahsan"}, Data: data(`0`)})
	s1 := backends["3001"]
	_, flush := h.claim(t, s1, "ahsan")
	h.route(t, users["ihsan"], router.Message{To: []string{"ahsan"}, Data: data(`1`)}) // behind the flush
	s1.fail.Store(true)
	if _, err := h.Unregister(t.Context(), "s3001", "ping timeout"); err != nil {
		t.Fatal(err)
	}
	h.route(t, users["ihsan"], router.Message{To: []string{"ahsan"}, Data: data(`2`)})
	flush() // control calls it even though the session is gone
	_, flush2 := h.claim(t, backends["3002"], "ahsan")
	flush2()
	if got := payloads(backends["3002"].take()); !slices.Equal(got, []string{"0", "1", "2"}) {
		t.Fatalf("next claimer got %v", got)
	}
}

// TestChurn: senders, claims and session churn at once; run under -race it
// checks for data races and deadlocks, and that every direct message is
// accounted for.
func TestChurn(t *testing.T) {
	t.Parallel()
	h := newHub(t, router.Config{MailboxMessages: 1 << 20, MailboxBytes: 1 << 30})
	ctx := context.Background()
	sender := newFake("sender", "http://127.0.0.1:3000")
	h.register(t, sender)
	const users, gens, msgs = 4, 20, 200
	var received sync.Map            // payload → struct{}
	order := make([][]string, users) // per user, what its sessions got, in order
	var wg sync.WaitGroup
	stop := make(chan struct{})
	// Receivers: each user holds its name from the start, then hops to a
	// new session gens times (the old one ends after the claim).
	first := make([]*fakeSession, users)
	for u := range users {
		first[u] = newFake(fmt.Sprintf("u%d-start", u), "http://127.0.0.1:4000")
		h.register(t, first[u])
		h.claim(t, first[u], fmt.Sprintf("u%d", u))
	}
	for u := range users {
		wg.Go(func() {
			name := fmt.Sprintf("u%d", u)
			prev := first[u]
			for g := range gens {
				prev.fail.Store(true)
				if _, err := h.Unregister(ctx, prev.id, "churn"); err != nil {
					t.Error(err)
					return
				}
				for _, d := range prev.take() {
					received.Store(string(d.Data), struct{}{})
					order[u] = append(order[u], string(d.Data))
				}
				s := newFake(fmt.Sprintf("u%d-g%d", u, g), "http://127.0.0.1:4000")
				if err := h.Register(s); err != nil {
					t.Error(err)
					return
				}
				_, flush, err := h.Claim(ctx, s, name)
				if err != nil {
					t.Error(err)
					return
				}
				flush()
				// Let at least one message reach the live session directly.
				for len(s.sig) > 0 {
					<-s.sig
				}
				select {
				case <-s.sig:
				case <-stop:
				}
				prev = s
			}
			prev.fail.Store(true)
			if _, err := h.Unregister(ctx, prev.id, "churn"); err != nil {
				t.Error(err)
			}
			for _, d := range prev.take() {
				received.Store(string(d.Data), struct{}{})
				order[u] = append(order[u], string(d.Data))
			}
		})
	}
	var results sync.Map
	wg.Go(func() {
		defer close(stop)
		for i := range msgs {
			for u := range users {
				p := fmt.Sprintf(`"u%d-%d"`, u, i)
				res, err := h.Route(ctx, sender, router.Message{To: []string{fmt.Sprintf("u%d", u)}, Data: []byte(p)})
				if err != nil {
					t.Error(err)
					return
				}
				results.Store(p, res)
			}
		}
	})
	wg.Wait()
	<-stop
	// Collect what is still held, by claiming every name one last time.
	final := newFake("final", "http://127.0.0.1:5000")
	h.register(t, final)
	for u := range users {
		_, flush, err := h.Claim(ctx, final, fmt.Sprintf("u%d", u))
		if err != nil {
			t.Fatal(err)
		}
		flush()
		for _, d := range final.take() {
			received.Store(string(d.Data), struct{}{})
			order[u] = append(order[u], string(d.Data))
		}
	}
	for u, got := range order {
		last := -1
		for _, p := range got {
			var uu, i int
			if _, err := fmt.Sscanf(p, `"u%d-%d"`, &uu, &i); err != nil || uu != u {
				t.Fatalf("user %d got %s", u, p)
			}
			if i <= last {
				t.Fatalf("user %d: message %d after %d (out of order or twice)", u, i, last)
			}
			last = i
		}
	}
	lost, unknown, total := 0, 0, 0
	results.Range(func(k, v any) bool {
		res := v.(router.Result)
		total++
		if len(res.Unknown) > 0 || len(res.Dropped) > 0 {
			unknown++
			return true // nobody held it at that moment: reported to the sender
		}
		if _, ok := received.Load(k); !ok {
			lost++
			t.Errorf("%s: %+v never received", k, res)
		}
		return lost < 10
	})
	if total != users*msgs || unknown != 0 {
		t.Fatalf("%d results, %d unknown or dropped; want %d, 0", total, unknown, users*msgs)
	}
	t.Logf("%d messages, %d reported unknown or dropped, %+v", total, unknown, h.Stats())
}
