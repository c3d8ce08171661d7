package eio

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// countHandler counts messages and signals every `every`-th one.
type countHandler struct {
	n     atomic.Int64
	every int64
	tick  chan struct{}
	echo  bool
}

func (h *countHandler) OnMessage(c *Conn, m Message) {
	if h.echo {
		_ = c.Send(m)
		return
	}
	if h.n.Add(1)%h.every == 0 {
		h.tick <- struct{}{}
	}
}
func (h *countHandler) OnClose(c *Conn, reason string) {}

// benchPair connects a Go client to a Go server over websocket.
func benchPair(b *testing.B, srvH, cliH Handler) (server, client *Conn) {
	b.Helper()
	conns := make(chan *Conn, 1)
	srv := NewServer(Config{}, nil, func(c *Conn) Handler { conns <- c; return srvH })
	mux := http.NewServeMux()
	mux.Handle("/engine.io/{$}", srv)
	ts := httptest.NewServer(mux)
	c, err := Dial(context.Background(), ts.URL, DialConfig{Path: "/engine.io/", Config: Config{}}, cliH)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		c.Close(ReasonForcedClose)
		<-c.Done()
		srv.Close()
		ts.Close()
	})
	return <-conns, c
}

// BenchmarkSendReceive measures server Send → Go client OnMessage over
// websocket (throughput: messages are pipelined, 256 per wait).
func BenchmarkSendReceive(b *testing.B) {
	const batch = 256
	cli := &countHandler{every: batch, tick: make(chan struct{}, 1)}
	sc, _ := benchPair(b, &countHandler{every: 1 << 62}, cli)
	msg := Message{Data: []byte(`2["message",{"to":"user-42","body":"hello there"}]`)}
	b.ReportAllocs()
	defer reportCPU(b)()
	i := 0
	for b.Loop() {
		if err := sc.Send(msg); err != nil {
			b.Fatal(err)
		}
		if i++; i%batch == 0 {
			<-cli.tick
		}
	}
	for i%batch != 0 {
		_ = sc.Send(msg)
		i++
	}
	<-cli.tick
}

// BenchmarkRoundTrip measures one client → server → client echo over
// websocket (latency: one message in flight).
func BenchmarkRoundTrip(b *testing.B) {
	cli := &countHandler{every: 1, tick: make(chan struct{}, 1)}
	_, c := benchPair(b, &countHandler{echo: true}, cli)
	msg := Message{Data: []byte(`3["ack",{"ok":true}]`)}
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if err := c.Send(msg); err != nil {
			b.Fatal(err)
		}
		<-cli.tick
	}
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportCPU adds a cpu-ns/op metric (both ends of the pair run in this
// process, so it is client plus server CPU per operation).
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() { b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op") }
}
