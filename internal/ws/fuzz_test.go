package ws

import (
	"io"
	"net"
	"testing"
	"time"
)

// fuzzSeeds are client→server frame streams: valid traffic and the
// violations the reader must reject.
func fuzzSeeds() [][]byte {
	cat := func(fs ...[]byte) []byte {
		var out []byte
		for _, f := range fs {
			out = append(out, f...)
		}
		return out
	}
	return [][]byte{
		nil,
		rawFrame(true, 0, OpText, []byte("hello"), true),
		rawFrame(true, 0, OpBinary, make([]byte, 300), true),
		rawFrame(true, 0, OpBinary, make([]byte, 70000), true),
		cat(rawFrame(false, 0, OpText, []byte("he"), true), rawFrame(true, 0, OpPing, []byte("x"), true),
			rawFrame(true, 0, OpContinuation, []byte("llo"), true)),
		cat(rawFrame(true, 0, OpPong, nil, true), rawFrame(true, 0, OpClose, []byte{0x03, 0xe8, 'o', 'k'}, true)),
		rawFrame(true, 0, OpText, []byte("hi"), false),
		rawFrame(true, 2, OpText, []byte("hi"), true),
		rawFrame(true, 0, OpText, []byte{0xff, 0xfe}, true),
		rawFrame(true, 0, OpClose, []byte{1}, true),
		rawFrame(false, 0, OpPing, nil, true),
		{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4},
		{0x82, 0xfe},
	}
}

// FuzzReadFrames feeds arbitrary bytes (in two writes, split at split) as
// the client side of a server Conn over net.Pipe: the reader must not panic,
// must return messages within MaxMessageBytes, and must end with an error.
func FuzzReadFrames(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(s, uint16(i*7))
	}
	const limit = 4096
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		srv, cli := net.Pipe()
		c := newConn(srv, false, Config{MaxMessageBytes: limit, WriteTimeout: time.Second}, nil)
		k := int(split) % (len(data) + 1)
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			_, _ = cli.Write(data[:k])
			_, _ = cli.Write(data[k:])
			_ = cli.Close()
		}()
		drained := make(chan struct{})
		go func() {
			defer close(drained)
			_, _ = io.Copy(io.Discard, cli) // pongs and closes from the server
		}()
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				break
			}
			if op != OpText && op != OpBinary {
				t.Fatalf("op %d", op)
			}
			if len(p) > limit {
				t.Fatalf("message of %d bytes over the %d limit", len(p), limit)
			}
		}
		if _, _, err := c.ReadMessage(); err == nil {
			t.Fatal("error not sticky")
		}
		_ = c.Close()
		<-wrote
		<-drained
	})
}

// FuzzFrameScanner compares FrameScanner with a reference parse of the
// whole input, fed whole and in two pieces.
func FuzzFrameScanner(f *testing.F) {
	for i, s := range fuzzSeeds() {
		f.Add(s, uint16(i*5))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16) {
		want := refBoundaries(data)
		k := int(split) % (len(data) + 1)
		var s FrameScanner
		s.Feed(data[:k])
		if got := s.AtBoundary(); got != want[k] {
			t.Fatalf("after %d bytes: got %v want %v", k, got, want[k])
		}
		s.Feed(data[k:])
		if got := s.AtBoundary(); got != want[len(data)] {
			t.Fatalf("at end: got %v want %v", got, want[len(data)])
		}
		var w FrameScanner
		w.Feed(data)
		if w.AtBoundary() != want[len(data)] {
			t.Fatal("whole feed disagrees")
		}
	})
}
