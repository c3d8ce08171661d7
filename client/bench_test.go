package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// benchPair starts an in-process hub with two backends: one holding "bob"
// whose messages go to onMessage, and the sender it returns.
// sendOpts are added to the sender's options.
func benchPair(b *testing.B, onMessage func(Message), sendOpts ...Option) *Client {
	b.Helper()
	hub := inprocHubTB(b)
	recv := dial(b, []string{hub}, WithAddress(backendURL(b)), WithOnMessage(onMessage))
	send := dial(b, []string{hub}, append([]Option{WithAddress(backendURL(b))}, sendOpts...)...)
	if err := recv.Join(context.Background(), "bob"); err != nil {
		b.Fatal(err)
	}
	return send
}

// BenchmarkSend measures one direct message's round trip through a real
// in-process hub: Send returns when the hub acked it (delivery to the
// receiving backend runs concurrently and is counted).
func BenchmarkSend(b *testing.B) {
	var got atomic.Int64
	send := benchPair(b, func(Message) { got.Add(1) })
	ctx := context.Background()
	to := []string{"bob"}
	data := json.RawMessage(`{"text":"hello, bob"}`)
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := send.Send(ctx, to, data); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSendParallel is BenchmarkSend with many Sends in flight on one
// connection (GOMAXPROCS × 16 goroutines).
func BenchmarkSendParallel(b *testing.B) {
	send := benchPair(b, func(Message) {})
	ctx := context.Background()
	to := []string{"bob"}
	data := json.RawMessage(`{"text":"hello, bob"}`)
	b.ReportAllocs()
	b.SetParallelism(16)
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := send.Send(ctx, to, data); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkSendAsync measures SendMessageAsync through a real in-process
// hub, with up to DefaultMaxInFlight messages awaiting their answer (the
// way examples/go-chat sends), from one goroutine and from 8, with
// batching on (the default) and off; it waits for every answer before it
// stops. packets/msg is the `message` packets written per message.
func BenchmarkSendAsync(b *testing.B) {
	for _, senders := range []int{1, 8} {
		for _, batching := range []bool{true, false} {
			name := fmt.Sprintf("senders=%d/batching=%v", senders, batching)
			b.Run(name, func(b *testing.B) { benchSendAsync(b, senders, batching) })
		}
	}
}

func benchSendAsync(b *testing.B, senders int, batching bool) {
	send := benchPair(b, func(Message) {}, WithBatching(batching))
	ctx := context.Background()
	o := Outgoing{To: []string{"bob"}, From: "alice", Data: json.RawMessage(`{"text":"hello, bob"}`)}
	var answered, failed atomic.Int64
	done := func(_ SendResult, err error) {
		if err != nil {
			failed.Add(1)
		}
		answered.Add(1)
	}
	b.ReportAllocs()
	start := time.Now()
	n := int64(0)
	for b.Loop() {
		// Each iteration is senders messages, one per goroutine, so the
		// calls contend as a busy backend's users' do.
		if senders == 1 {
			if err := send.SendMessageAsync(ctx, o, done); err != nil {
				b.Fatal(err)
			}
			n++
			continue
		}
		var wg sync.WaitGroup
		for range senders {
			wg.Go(func() {
				if err := send.SendMessageAsync(ctx, o, done); err != nil {
					b.Error(err)
				}
			})
		}
		wg.Wait()
		n += int64(senders)
	}
	for answered.Load() < n {
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	b.ReportMetric(float64(n)/el.Seconds(), "msgs/s")
	packets := send.stats.singles.Load() + send.stats.batches.Load()
	b.ReportMetric(float64(packets)/float64(n), "packets/msg")
	if failed.Load() > 0 {
		b.Fatalf("%d of %d failed", failed.Load(), n)
	}
}

// BenchmarkDecodeMessage decodes the hub's `message` event (the fast path)
// and, for comparison, with encoding/json.
func BenchmarkDecodeMessage(b *testing.B) {
	in := []byte(hubEncoding)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			if _, err := decodeMessage(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(in)))
		for b.Loop() {
			var w wireMessage
			if err := json.Unmarshal(in, &w); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkEncodeOutgoing builds a `message` event.
func BenchmarkEncodeOutgoing(b *testing.B) {
	o := Outgoing{To: []string{"bob"}, From: "alice", Data: json.RawMessage(`{"text":"hello, bob"}`)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := encodeOutgoing(&o); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeBatchReply decodes the hub's answer to a batch of 100
// direct messages and each item's result, as an answer does.
func BenchmarkDecodeBatchReply(b *testing.B) {
	one := `{"ok":true,"id":"n1-0123456789","delivered":["bob"],"held":[],"unknown":[]}`
	in := []byte(`{"ok":true,"results":[` + strings.Repeat(one+",", 99) + one + `]}`)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		res, f, err := decodeBatchReply(in)
		if err != nil || f != nil || len(res) != 100 {
			b.Fatal(err, f, len(res))
		}
		for _, r := range res {
			if _, err := decodeSendResult(r); err != nil {
				b.Fatal(err)
			}
		}
	}
}
