package control_test

import (
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// TestRelayCoalesced: with the channel's read coalescing on, the sessions
// one clock tick wakes hold their writes (deliveries and acks alike) until
// the last of them is done, then write once per peer. Three backends
// stream acked direct messages to each other at once: every message
// arrives once and in order per sender, and every ack comes back.
func TestRelayCoalesced(t *testing.T) {
	h := newHub(t, control.Config{SIO: sio.Config{Config: eio.Config{ReadCoalesce: 2 * time.Millisecond}}}, router.Config{})
	const backends, perPeer = 3, 300
	type got struct {
		mu   sync.Mutex
		next map[string]int // sender's name → the next n expected
		bad  []string
		n    int
	}
	recvd := make([]*got, backends)
	var all sync.WaitGroup // one per delivery
	all.Add(backends * (backends - 1) * perPeer)
	peers := make([]*peer, backends)
	for i := range backends {
		g := &got{next: map[string]int{}}
		recvd[i] = g
		peers[i] = ackPeer(t, h, fmt.Sprintf("http://127.0.0.1:%d", 3001+i), func(m sio.Message, ack sio.Ack) {
			var d delivery
			var data struct{ N int }
			if json.Unmarshal(m.Args[0], &d) != nil || d.From == nil || json.Unmarshal(d.Data, &data) != nil {
				t.Errorf("delivery %s", m.Args[0])
				return
			}
			g.mu.Lock()
			if data.N != g.next[*d.From] {
				g.bad = append(g.bad, fmt.Sprintf("from %s: %d, want %d", *d.From, data.N, g.next[*d.From]))
			}
			g.next[*d.From] = data.N + 1
			g.n++
			g.mu.Unlock()
			if ack != nil {
				_ = ack(sio.Message{})
			}
			all.Done()
		})
		if r := peers[i].res(t, "join_subs", quote(fmt.Sprintf("u%d", i))); !r.OK {
			t.Fatalf("join_subs: %+v", r)
		}
	}

	acks := make(chan string, backends*(backends-1)*perPeer)
	var senders sync.WaitGroup
	for i, p := range peers {
		senders.Go(func() {
			for n := range perPeer {
				if n%5 == 0 {
					// Bursts a little apart, as a busy backend sends:
					// reads that each empty the socket, several per
					// period, which is what starts coalescing.
					time.Sleep(200 * time.Microsecond)
				}
				for j := range backends {
					if j == i {
						continue
					}
					msg := fmt.Sprintf(`{"to":"u%d","from":"u%d","data":{"n":%d}}`, j, i, n)
					err := p.S.EmitWithAckFunc("message", sio.Args(json.RawMessage(msg)), 10*time.Second, func(m sio.Message, err error) {
						var r struct{ OK bool }
						if err == nil && len(m.Args) > 0 {
							err = json.Unmarshal(m.Args[0], &r)
						}
						switch {
						case err != nil:
							acks <- err.Error()
						case !r.OK:
							acks <- string(m.Args[0])
						default:
							acks <- ""
						}
					})
					if err != nil {
						t.Error(err)
						return
					}
				}
			}
		})
	}
	senders.Wait()
	for range cap(acks) {
		if a := recv(t, acks, "an ack"); a != "" {
			t.Fatalf("message refused: %s", a)
		}
	}
	done := make(chan struct{})
	go func() { all.Wait(); close(done) }()
	recv(t, done, "every delivery")
	for i, g := range recvd {
		g.mu.Lock()
		if len(g.bad) > 0 || g.n != (backends-1)*perPeer {
			t.Errorf("backend %d: %d deliveries, out of order: %v", i, g.n, g.bad)
		}
		g.mu.Unlock()
	}
}
