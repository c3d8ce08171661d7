package client

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"
)

// benchPair starts an in-process hub with two backends: one holding "bob"
// whose messages go to onMessage, and the sender it returns.
func benchPair(b *testing.B, onMessage func(Message)) *Client {
	b.Helper()
	hub := inprocHubTB(b)
	recv := dial(b, []string{hub}, WithAddress(backendURL(b)), WithOnMessage(onMessage))
	send := dial(b, []string{hub}, WithAddress(backendURL(b)))
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

// BenchmarkSendAsync measures SendMessageAsync from one goroutine through
// a real in-process hub, with up to DefaultMaxInFlight messages awaiting
// their answer (the way examples/go-chat sends); it waits for every
// answer before it stops.
func BenchmarkSendAsync(b *testing.B) {
	send := benchPair(b, func(Message) {})
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
		if err := send.SendMessageAsync(ctx, o, done); err != nil {
			b.Fatal(err)
		}
		n++
	}
	for answered.Load() < n {
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
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
