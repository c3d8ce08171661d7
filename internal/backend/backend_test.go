package backend

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestCircuitGrowsAndResets(t *testing.T) {
	t.Parallel()
	b := &Backend{ID: "a", Addr: "127.0.0.1:1"}
	now := time.Unix(1000, 0)
	if !b.AvailableAt(now) {
		t.Fatal("new backend not available")
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i, w := range want {
		got := b.MarkFailed(now)
		if got != w*time.Second {
			t.Fatalf("failure %d: interval %v, want %v", i, got, w*time.Second)
		}
		if b.AvailableAt(now.Add(got - time.Nanosecond)) {
			t.Fatalf("failure %d: available inside the interval", i)
		}
		if !b.AvailableAt(now.Add(got)) {
			t.Fatalf("failure %d: not available after the interval", i)
		}
	}
	b.MarkOK()
	if !b.AvailableAt(now) || !b.DownUntil().IsZero() {
		t.Fatal("MarkOK did not close the circuit")
	}
	if got := b.MarkFailed(now); got != CircuitMin {
		t.Fatalf("after reset: %v, want %v", got, CircuitMin)
	}
}

func TestDrainingAndCounters(t *testing.T) {
	t.Parallel()
	b := &Backend{ID: "a"}
	if !b.SetDraining(true) || b.SetDraining(true) || b.Available() || !b.Draining() {
		t.Fatal("draining flag")
	}
	if !b.SetDraining(false) || !b.Available() {
		t.Fatal("undrain")
	}
	if !b.Healthy() || b.SetHealthy(true) {
		t.Fatal("a backend starts healthy")
	}
	if !b.SetHealthy(false) || b.SetHealthy(false) || b.Healthy() || b.Available() || b.AvailableAt(time.Now()) {
		t.Fatal("unhealthy backend still available")
	}
	if !b.SetHealthy(true) || !b.Available() {
		t.Fatal("healthy again")
	}
	b.AddInFlight(1)
	b.AddInFlight(-2)
	b.AddTunnels(3)
	if b.InFlight() != 0 || b.Tunnels() != 3 {
		t.Fatalf("counters %d %d", b.InFlight(), b.Tunnels())
	}
	if (&Backend{Weight: 0}).EffectiveWeight() != 1 || (&Backend{Weight: 5}).EffectiveWeight() != 5 {
		t.Fatal("EffectiveWeight")
	}
}

func TestRegistryAddReplaceRemove(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var mu sync.Mutex
	var events []string
	unsub := r.Subscribe(func(e Event) {
		mu.Lock()
		events = append(events, e.Kind.String()+" "+e.Backend.ID)
		mu.Unlock()
	})
	a := &Backend{ID: "a", Addr: "h:1"}
	b := &Backend{ID: "b", Addr: "h:2"}
	if r.Add(a) != nil || r.Add(b) != nil {
		t.Fatal("unexpected replacement")
	}
	snap := r.Snapshot()
	a2 := &Backend{ID: "a2", Addr: "h:1"}
	if old := r.Add(a2); old != a {
		t.Fatalf("replace returned %v", old)
	}
	if len(snap) != 2 || snap[0] != a {
		t.Fatal("old snapshot changed")
	}
	if got := r.Snapshot(); len(got) != 2 || got[0] != b || got[1] != a2 {
		t.Fatalf("snapshot %v", got)
	}
	if r.Get("a") != nil || r.Get("a2") != a2 {
		t.Fatal("Get")
	}
	if r.RemoveBackend(a) {
		t.Fatal("RemoveBackend removed a replaced backend")
	}
	if r.Remove("b") != b || r.Remove("b") != nil || r.Len() != 1 {
		t.Fatal("Remove")
	}
	unsub()
	r.Remove("a2")
	mu.Lock()
	defer mu.Unlock()
	want := "[joined a joined b left a joined a2 left b]"
	if fmt.Sprint(events) != want {
		t.Fatalf("events %v, want %v", events, want)
	}
}

func TestRegistryConcurrent(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var n sync.WaitGroup
	var mu sync.Mutex
	joined, left := 0, 0
	r.Subscribe(func(e Event) {
		mu.Lock()
		if e.Kind == Joined {
			joined++
		} else {
			left++
		}
		mu.Unlock()
	})
	for w := range 4 {
		n.Go(func() {
			for i := range 200 {
				id := fmt.Sprintf("%d-%d", w, i)
				r.Add(&Backend{ID: id, Addr: id})
				_ = r.Snapshot()
				r.Remove(id)
			}
		})
	}
	n.Wait()
	mu.Lock()
	defer mu.Unlock()
	if joined != 800 || left != 800 || r.Len() != 0 {
		t.Fatalf("joined %d left %d len %d", joined, left, r.Len())
	}
}

func BenchmarkRegistrySnapshot(b *testing.B) {
	r := NewRegistry()
	for i := range 30 {
		r.Add(&Backend{ID: fmt.Sprint(i), Addr: fmt.Sprint(i)})
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n += len(r.Snapshot())
	}
	_ = n
}

func BenchmarkAvailable(b *testing.B) {
	be := &Backend{ID: "a"}
	b.ReportAllocs()
	for b.Loop() {
		_ = be.Available()
	}
}

// TestRetryBackoffFromRegistry: the registry's back-off settings reach the
// backends it adds.
func TestRetryBackoffFromRegistry(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	r.SetRetryBackoff(100*time.Millisecond, 250*time.Millisecond)
	b := &Backend{ID: "a", Addr: "127.0.0.1:1"}
	r.Add(b)
	now := time.Unix(100, 0)
	for i, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 250 * time.Millisecond, 250 * time.Millisecond} {
		if got := b.MarkFailed(now); got != want {
			t.Fatalf("failure %d: out for %v, want %v", i+1, got, want)
		}
	}
	b.MarkOK()
	if got := b.MarkFailed(now); got != 100*time.Millisecond {
		t.Fatalf("after success: %v", got)
	}
}

func TestTouch(t *testing.T) {
	t.Parallel()
	r := NewRegistry()
	var got []string
	unsub := r.Subscribe(func(e Event) { got = append(got, e.Kind.String()+" "+e.Backend.ID) })
	defer unsub()
	a := &Backend{ID: "a", Addr: "127.0.0.1:1"}
	r.Touch(a) // not in the pool: nothing
	r.Add(a)
	r.Touch(a)
	r.Touch(&Backend{ID: "a", Addr: "127.0.0.1:1"}) // another object with a's id: not the member
	r.Remove("a")
	r.Touch(a)
	if strings.Join(got, ",") != "joined a,changed a,left a" {
		t.Fatalf("events %v", got)
	}
}

func TestParseStatic(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in     string
		weight int
		err    string
	}{
		{in: "http://127.0.0.1:3001", weight: 1},
		{in: "  http://127.0.0.1:3001   weight=7 ", weight: 7},
		{in: "http://127.0.0.1:3001 weight=1000", weight: 1000},
		{in: "http://127.0.0.1:3001 weight=1001", err: "weight must be"},
		{in: "http://127.0.0.1:3001 weight=", err: "weight must be"},
		{in: "http://127.0.0.1:3001 check", err: "unknown option"},
		{in: "http://127.0.0.1", err: "explicit port"},
		{in: "   ", err: "empty"},
	} {
		u, w, err := ParseStatic(tt.in)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: err %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || w != tt.weight || u.Host != "127.0.0.1:3001" {
			t.Errorf("%q: %v %d %v", tt.in, u, w, err)
		}
	}
}

// FuzzParseStatic: any entry either fails with an error or yields a URL
// that passes ParseURL again unchanged, and a weight within bounds.
func FuzzParseStatic(f *testing.F) {
	for _, s := range []string{
		"http://127.0.0.1:3001", "https://[::1]:443/ weight=3", "http://a:1 weight=1000",
		"http://a:1 weight=0", "http://{ip}:{port}", "http://u@h:1", "http://h:1/p?q#f",
		"  http://h:99999  ", "http://h:1 weight=2 weight=5", "ftp://h:1", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, entry string) {
		u, w, err := ParseStatic(entry)
		if err != nil {
			if u != nil || w != 0 {
				t.Fatalf("%q: error %v with a result %v, %d", entry, err, u, w)
			}
			return
		}
		if w < 1 || w > MaxWeight {
			t.Fatalf("%q: weight %d", entry, w)
		}
		again, err := ParseURL(u.String())
		if err != nil || again.String() != u.String() {
			t.Fatalf("%q: %q does not parse back (%v, %v)", entry, u, again, err)
		}
	})
}

// TestLoadCountsRetired: a server's load includes the work of the
// registrations it had before (a reconnect makes a new Backend), until
// that work ends; a retired backend with no work left is forgotten.
func TestLoadCountsRetired(t *testing.T) {
	r := NewRegistry()
	old := &Backend{ID: "b-1", Addr: "127.0.0.1:3001"}
	r.Add(old)
	old.AddInFlight(2)
	old.AddTunnels(1)
	idle := &Backend{ID: "b-2", Addr: "127.0.0.1:3002"}
	r.Add(idle)
	r.Remove(idle.ID) // no work: not kept
	r.Remove(old.ID)
	if in, tun := r.Load("127.0.0.1:3001"); in != 2 || tun != 1 {
		t.Fatalf("after the backend left: load %d/%d, want 2/1", in, tun)
	}
	again := &Backend{ID: "b-3", Addr: "127.0.0.1:3001"}
	r.Add(again)
	again.AddInFlight(1)
	if in, tun := r.Load("127.0.0.1:3001"); in != 3 || tun != 1 {
		t.Fatalf("after it registered again: load %d/%d, want 3/1", in, tun)
	}
	replaced := &Backend{ID: "b-4", Addr: "127.0.0.1:3001"}
	r.Add(replaced) // replaces again, which has work
	if in, _ := r.Load("127.0.0.1:3001"); in != 3 {
		t.Fatalf("after a replacement: in flight %d, want 3", in)
	}
	if in, tun := r.Load("127.0.0.1:3002"); in != 0 || tun != 0 {
		t.Fatalf("other server: %d/%d", in, tun)
	}
	old.AddInFlight(-2)
	old.AddTunnels(-1)
	again.AddInFlight(-1)
	if in, tun := r.Load("127.0.0.1:3001"); in != 0 || tun != 0 {
		t.Fatalf("after the work ended: %d/%d", in, tun)
	}
	r.mu.Lock()
	n := len(r.retired)
	r.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d retired backends kept with no work", n)
	}
}
