package control_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/control"
	"github.com/switchboard-lb/switchboard/internal/router"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// BenchmarkRelayDirect relays acked direct messages between two Go
// backends (ack:true, as the SDK announces) through the channel on
// loopback, 64 in flight. It measures the whole process (hub and both
// backends); allocs/op shows the relay path's garbage.
func BenchmarkRelayDirect(b *testing.B) {
	h := newHub(b, control.Config{}, router.Config{})
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
			{json.RawMessage(`"` + addr + `"`), json.RawMessage(`{"ack":true}`)},
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
	dial("http://127.0.0.1:20002", "bob", func(_ sio.Message, ack sio.Ack) {
		if ack != nil {
			_ = ack(sio.Message{})
		}
		got.Done()
	})
	alice := dial("http://127.0.0.1:20001", "alice", nil)
	msg := sio.Message{Args: []json.RawMessage{json.RawMessage(`{"to":"bob","from":"alice","data":{"text":"hello there, a chat message"}}`)}}
	window := make(chan struct{}, 64)
	b.ReportAllocs()
	for b.Loop() {
		window <- struct{}{}
		got.Add(1)
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
