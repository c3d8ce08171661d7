package balance

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
)

func pool(weights ...int) []*backend.Backend {
	var p []*backend.Backend
	for i, w := range weights {
		id := string(rune('a' + i))
		p = append(p, &backend.Backend{ID: id, Addr: id, Weight: w})
	}
	return p
}

func seq(p Policy, pl []*backend.Backend, n int) string {
	var s []string
	for range n {
		b := p.Pick(pl, nil)
		if b == nil {
			s = append(s, "-")
			continue
		}
		s = append(s, b.ID)
	}
	return strings.Join(s, "")
}

func TestSmoothWRRSequences(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		weights []int
		n       int
		want    string
	}{
		{"nginx 5 1 1", []int{5, 1, 1}, 14, "aabacaaaabacaa"},
		{"equal", []int{1, 1, 1}, 7, "abcabca"},
		{"zero weight counts as one", []int{0, 1}, 4, "abab"},
		{"2 1", []int{2, 1}, 6, "abaaba"},
		{"single", []int{3}, 3, "aaa"},
		{"4 3 2 1", []int{4, 3, 2, 1}, 10, "abcabdacba"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := seq(NewSmoothWRR(), pool(tc.weights...), tc.n); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestSmoothWRRSkipsUnavailable(t *testing.T) {
	t.Parallel()
	pl := pool(5, 1, 1)
	p := NewSmoothWRR()
	pl[0].SetDraining(true)
	if got := seq(p, pl, 4); got != "bcbc" {
		t.Fatalf("with a draining: %s", got)
	}
	pl[1].MarkFailed(time.Now())
	if got := seq(p, pl, 3); got != "ccc" {
		t.Fatalf("with b down: %s", got)
	}
	pl[2].SetDraining(true)
	if got := seq(p, pl, 2); got != "--" {
		t.Fatalf("none available: %s", got)
	}
	if NewSmoothWRR().Pick(nil, nil) != nil {
		t.Fatal("empty pool")
	}
	one := pool(1)
	one[0].SetDraining(true)
	if NewSmoothWRR().Pick(one, nil) != nil {
		t.Fatal("single draining")
	}
}

// TestSmoothWRRNewSnapshotKeepsScores checks that a registry change (new
// pool slice) continues the sequence of the backends that stay.
func TestSmoothWRRNewSnapshotKeepsScores(t *testing.T) {
	t.Parallel()
	r := backend.NewRegistry()
	for _, b := range pool(5, 1, 1) {
		r.Add(b)
	}
	p := NewSmoothWRR()
	if got := seq(p, r.Snapshot(), 3); got != "aab" {
		t.Fatal(got)
	}
	r.Add(&backend.Backend{ID: "d", Addr: "d", Weight: 0}) // new slice, same scores
	got := seq(p, r.Snapshot(), 8)
	if strings.Count(got, "a") != 5 || strings.Count(got, "d") != 1 {
		t.Fatalf("after adding d: %s", got)
	}
}

func TestSmoothWRRExactCountsConcurrent(t *testing.T) {
	t.Parallel()
	pl := pool(3, 2, 1)
	p := NewSmoothWRR()
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 600 {
				id := p.Pick(pl, nil).ID
				mu.Lock()
				counts[id]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if fmt.Sprint(counts) != "map[a:1200 b:800 c:400]" {
		t.Fatalf("counts %v", counts)
	}
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 30, 300} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			ws := make([]int, n)
			for i := range ws {
				ws[i] = 1 + i%5
			}
			pl := pool(ws...)
			p := NewSmoothWRR()
			b.ReportAllocs()
			for b.Loop() {
				if p.Pick(pl, nil) == nil {
					b.Fatal("nil")
				}
			}
		})
	}
}
