package memory_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/engine"
	"github.com/switchboard-lb/switchboard/internal/engine/memory"
)

// fakeTimer records what Presence scheduled so the test fires it by hand.
type fakeTimer struct {
	d       time.Duration
	f       func()
	stopped bool
}

func (ft *fakeTimer) Stop() bool { was := !ft.stopped; ft.stopped = true; return was }

func TestPresenceInjectedClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var timers []*fakeTimer
	var expired []string
	p := memory.NewPresence(memory.PresenceConfig{
		Now: func() time.Time { return now },
		AfterFunc: func(d time.Duration, f func()) memory.Timer {
			ft := &fakeTimer{d: d, f: f}
			timers = append(timers, ft)
			return ft
		},
		OnExpire: func(name string, h engine.Holder) { expired = append(expired, name) },
	})
	ctx := t.Context()
	if _, err := p.Join(ctx, "alif", "b1"); err != nil {
		t.Fatal(err)
	}
	if h, _ := p.Lookup(ctx, "alif"); !h.Since.Equal(now) {
		t.Fatalf("Since = %v, want %v", h.Since, now)
	}
	now = now.Add(time.Minute)
	if _, err := p.OrphanBackend(ctx, "b1", 30*time.Second); err != nil {
		t.Fatal(err)
	}
	h, _ := p.Lookup(ctx, "alif")
	if !h.Orphaned || !h.Since.Equal(now) || !h.Until.Equal(now.Add(30*time.Second)) {
		t.Fatalf("orphaned holder = %+v", h)
	}
	if len(timers) != 1 || timers[0].d != 30*time.Second {
		t.Fatalf("timers = %+v", timers)
	}
	timers[0].f()
	if len(expired) != 1 || expired[0] != "alif" {
		t.Fatalf("expired = %v", expired)
	}
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func BenchmarkPresenceLookup(b *testing.B) {
	p := memory.NewPresence(memory.PresenceConfig{})
	for i := range 10000 {
		if _, err := p.Join(b.Context(), fmt.Sprintf("user-%d", i), fmt.Sprintf("b%d", i%3)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Lookup(b.Context(), "user-4242"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPresenceLookupParallel(b *testing.B) {
	p := memory.NewPresence(memory.PresenceConfig{})
	for i := range 300 {
		if _, err := p.Join(b.Context(), fmt.Sprintf("user-%d", i), "b1"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := p.Lookup(b.Context(), "user-42"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func BenchmarkBrokerPublish3(b *testing.B) {
	br := memory.NewBroker()
	for range 3 {
		if _, err := br.Subscribe(b.Context(), "s", func(engine.Message) {}); err != nil {
			b.Fatal(err)
		}
	}
	m := engine.Message{ID: "1", Data: []byte(`{"text":"hi"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if err := br.Publish(b.Context(), "s", m); err != nil {
			b.Fatal(err)
		}
	}
}
