package router_test

import (
	"fmt"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/router"
)

// benchHub registers n discarding sessions holding 100 users each.
func benchHub(b *testing.B, n int) (*hub, []*discard) {
	b.Helper()
	h := newHub(b, router.Config{NodeID: "bench"})
	ss := make([]*discard, n)
	for i := range n {
		ss[i] = &discard{id: fmt.Sprintf("b%d", i), addr: fmt.Sprintf("http://127.0.0.1:%d", 3001+i)}
		h.register(b, ss[i])
		for u := range 100 {
			h.claim(b, ss[i], fmt.Sprintf("user-%d-%d", i, u))
		}
	}
	return h, ss
}

var payload = []byte(`{"text":"hello, this is a chat message of about eighty bytes in total size!"}`)

func BenchmarkRouteDirect(b *testing.B) {
	h, ss := benchHub(b, 3)
	m := router.Message{To: []string{"user-1-42"}, From: "user-0-7", Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Route(b.Context(), ss[0], m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteDirect3Recipients(b *testing.B) {
	h, ss := benchHub(b, 3)
	m := router.Message{To: []string{"user-1-42", "user-1-43", "user-2-1"}, Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Route(b.Context(), ss[0], m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRouteDirectParallel(b *testing.B) {
	h, ss := benchHub(b, 3)
	m := router.Message{To: []string{"user-1-42"}, Data: payload}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Route(b.Context(), ss[0], m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

func benchPublic(b *testing.B, n int) {
	h, ss := benchHub(b, n)
	m := router.Message{Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Route(b.Context(), ss[0], m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRoutePublic3(b *testing.B)  { benchPublic(b, 3) }
func BenchmarkRoutePublic30(b *testing.B) { benchPublic(b, 30) }

func BenchmarkRouteRoom30(b *testing.B) {
	h, ss := benchHub(b, 30)
	for _, s := range ss {
		if err := h.JoinRoom(b.Context(), s, "lobby"); err != nil {
			b.Fatal(err)
		}
	}
	m := router.Message{Room: "lobby", Data: payload}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Route(b.Context(), ss[0], m); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	h, _ := benchHub(b, 3)
	b.ReportAllocs()
	for b.Loop() {
		if ok, _, _, err := h.Lookup(b.Context(), "user-2-99"); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}

func BenchmarkRouteOrphaned(b *testing.B) {
	h, ss := benchHub(b, 3)
	if _, err := h.Unregister(b.Context(), "b2", "bench"); err != nil {
		b.Fatal(err)
	}
	m := router.Message{To: []string{"user-2-5"}, Data: payload}
	b.ReportAllocs()
	for b.Loop() { // mailbox stays at its 100-message bound, dropping oldest
		if _, err := h.Route(b.Context(), ss[0], m); err != nil {
			b.Fatal(err)
		}
	}
}
