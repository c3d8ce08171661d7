package msgroute_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
	"github.com/switchboard-lb/switchboard/internal/msgroute"
	"github.com/switchboard-lb/switchboard/internal/router"
)

// holder is a router session that only holds names.
type holder struct{ id, addr string }

func (h holder) BackendID() string                                      { return h.id }
func (h holder) Address() string                                        { return h.addr }
func (h holder) Deliver(context.Context, *router.Delivery) error        { return nil }
func (h holder) DeliverBatch(context.Context, []*router.Delivery) error { return nil }

// TestAffinityPick: a request naming a user goes to the backend holding
// the user while that backend takes new work; when it drains (or backs
// off after a failed dial), or for an unknown user, the next policy picks.
func TestAffinityPick(t *testing.T) {
	var rt *router.Router
	pres := memory.NewPresence(memory.PresenceConfig{OnExpire: func(name string, h engine.Holder) { rt.OnExpire(name, h) }})
	rooms := memory.NewRooms()
	t.Cleanup(func() { _ = pres.Close(context.Background()); _ = rooms.Close(context.Background()) })
	rt = router.New(router.Config{}, pres, rooms, nil)

	reg := backend.NewRegistry()
	a := &backend.Backend{ID: "b-a", Addr: "127.0.0.1:3001", Weight: 1}
	b := &backend.Backend{ID: "b-b", Addr: "127.0.0.1:3002", Weight: 1}
	reg.Add(a)
	reg.Add(b)
	if err := rt.Register(holder{a.ID, "http://" + a.Addr}); err != nil {
		t.Fatal(err)
	}
	_, flush, err := rt.Claim(context.Background(), holder{a.ID, "http://" + a.Addr}, "alice")
	if err != nil {
		t.Fatal(err)
	}
	flush()

	pol := msgroute.NewAffinity(msgroute.UserKey{Query: "user"}, rt, reg, balance.NewSmoothWRR())
	picks := func(url string) map[string]int {
		got := map[string]int{}
		for range 10 {
			got[pol.Pick(reg.Snapshot(), httptest.NewRequest("GET", url, nil)).ID]++
		}
		return got
	}
	if got := picks("/?user=alice"); got[a.ID] != 10 {
		t.Fatalf("alice's requests went to %v, want all to %s", got, a.ID)
	}
	if got := picks("/?user=nobody"); got[a.ID] != 5 || got[b.ID] != 5 {
		t.Fatalf("an unknown user's requests went to %v, want round robin", got)
	}
	a.SetDraining(true)
	if got := picks("/?user=alice"); got[a.ID] != 0 {
		t.Fatalf("with her backend draining, alice's requests went to %v; a draining backend takes no new work from affinity", got)
	}
	a.SetDraining(false)
	if got := picks("/?user=alice"); got[a.ID] != 10 {
		t.Fatalf("after the drain was lifted: %v", got)
	}
}

// TestHeldMessageBadFrom: a message for an orphaned user is kept (202),
// naming its sender with X-Switchboard-From; an invalid sender name is
// the client's error (400 INVALID_NAME), not a reason to retry (503).
func TestHeldMessageBadFrom(t *testing.T) {
	var rt *router.Router
	pres := memory.NewPresence(memory.PresenceConfig{OnExpire: func(name string, h engine.Holder) { rt.OnExpire(name, h) }})
	rooms := memory.NewRooms()
	t.Cleanup(func() { _ = pres.Close(context.Background()); _ = rooms.Close(context.Background()) })
	rt = router.New(router.Config{}, pres, rooms, nil)
	h := holder{"b-a", "http://127.0.0.1:3001"}
	if err := rt.Register(h); err != nil {
		t.Fatal(err)
	}
	_, flush, err := rt.Claim(context.Background(), h, "alice")
	if err != nil {
		t.Fatal(err)
	}
	flush()
	if _, err := rt.Unregister(context.Background(), h.id, "gone"); err != nil {
		t.Fatal(err)
	}
	front := httptest.NewServer(msgroute.New(msgroute.Config{}, backend.NewRegistry(), rt, nil, nil))
	t.Cleanup(front.Close)
	for _, tc := range []struct {
		from string
		want int
	}{
		{"bob", http.StatusAccepted},
		{strings.Repeat("b", 10_000), http.StatusBadRequest},
	} {
		req, _ := http.NewRequest("POST", front.URL+"/message?to=alice", strings.NewReader(`{"text":"hi"}`))
		req.Header.Set("X-Switchboard-From", tc.from)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("from %.10q: %d %s, want %d", tc.from, res.StatusCode, body, tc.want)
		}
	}
}
