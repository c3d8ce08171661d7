package control_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/codec"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// BenchmarkRelayDirect relays acked direct messages between two Go
// backends (ack:true, as the SDK announces) through the channel on
// loopback, 64 in flight. It measures the whole process (hub and both
// backends); allocs/op shows the relay path's garbage.
func BenchmarkRelayDirect(b *testing.B) { benchRelay(b, 1) }

// BenchmarkRelayBatch16 is BenchmarkRelayDirect with the sender batching
// 16 messages per `message` array and the receiver taking arrays
// (batch:true); ns/op and allocs/op are per message.
func BenchmarkRelayBatch16(b *testing.B) { benchRelay(b, 16) }

func benchRelay(b *testing.B, batch int) {
	h := newHub(b, control.Config{}, router.Config{})
	opts := `{"ack":true}`
	if batch > 1 {
		opts = `{"ack":true,"batch":true}`
	}
	dial := func(addr, name string, onMsg func(sio.Message, sio.Ack)) *sio.ClientSocket {
		c := sio.NewClient(h.URL, sio.ClientConfig{DialConfig: eio.DialConfig{Path: "/list/"}})
		b.Cleanup(func() { _ = c.Close() })
		s := c.Socket("/list", nil)
		if onMsg != nil {
			s.On("message", onMsg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := c.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		for _, call := range [][]json.RawMessage{
			{json.RawMessage(`"` + addr + `"`), json.RawMessage(opts)},
			{json.RawMessage(`"` + name + `"`)},
		} {
			ev := "address"
			if len(call) == 1 {
				ev = "join_subs"
			}
			if _, err := s.EmitWithAck(ctx, ev, sio.Message{Args: call}); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	var got sync.WaitGroup
	dial("http://127.0.0.1:20002", "bob", func(m sio.Message, ack sio.Ack) {
		n := 1
		if len(m.Args) > 0 && m.Args[0][0] == '[' {
			items, _ := codec.SplitArray(m.Args[0], nil)
			n = len(items)
		}
		if ack != nil {
			_ = ack(sio.Message{})
		}
		got.Add(-n)
	})
	alice := dial("http://127.0.0.1:20001", "alice", nil)
	const one = `{"to":"bob","from":"alice","data":{"text":"hello there, a chat message"}}`
	payload := one
	if batch > 1 {
		payload = "[" + strings.Repeat(one+",", batch-1) + one + "]"
	}
	msg := sio.Message{Args: []json.RawMessage{json.RawMessage(payload)}}
	window := make(chan struct{}, max(1, 64/batch))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if i++; i%batch != 0 {
			continue
		}
		window <- struct{}{}
		got.Add(batch)
		if err := alice.EmitWithAckFunc("message", msg, 10*time.Second, func(_ sio.Message, err error) {
			if err != nil {
				b.Error(err)
			}
			<-window
		}); err != nil {
			b.Fatal(err)
		}
	}
	got.Wait()
	for range cap(window) { // every ack is back before cleanup closes the sockets
		window <- struct{}{}
	}
}
