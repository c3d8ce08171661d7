//go:build linux

package ws

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"
)

// TestReadCoalesce: a stream of small frames, each in its own write,
// makes the reader poll on the ReadCoalesce clock with the socket's
// low-water mark raised. Every message still comes back whole and in
// order, including one larger than the read buffer whose tail arrives
// later (the reader must lower the mark before it waits for that tail),
// and one sent alone after the stream has stopped (the reader must have
// gone back to waiting for readability).
func TestReadCoalesce(t *testing.T) {
	naps := make(chan int, 1)
	url, errs := startServer(t, Config{MaxMessageBytes: 1 << 20, ReadCoalesce: 5 * time.Millisecond}, func(c *Conn) error {
		err := echoMessages(c)
		naps <- c.naps
		return err
	})
	nc, br := rawClient(t, url, "")
	var want [][]byte
	send := func(p []byte, pause time.Duration, split int) {
		t.Helper()
		want = append(want, p)
		f := rawFrame(true, 0, OpBinary, p, true)
		if split > 0 {
			if _, err := nc.Write(f[:split]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(pause)
			f = f[split:]
		}
		if _, err := nc.Write(f); err != nil {
			t.Fatal(err)
		}
	}
	// Echoes are read concurrently, so the server never blocks on us.
	got := make(chan []byte, 1024)
	go func() {
		for {
			_, _, p, err := readRawFrame(br)
			if err != nil {
				close(got)
				return
			}
			got <- p
		}
	}()
	stream := func(round int) {
		for i := range 300 {
			send(fmt.Appendf(nil, "small %d.%d", round, i), 0, 0)
			if i%10 == 9 {
				time.Sleep(200 * time.Microsecond)
			}
		}
	}
	stream(1)
	time.Sleep(50 * time.Millisecond) // several empty polls: coalescing ends
	send([]byte("alone"), 0, 0)
	stream(2)
	big := bytes.Repeat([]byte("x"), readBufSize+4000)
	send(big, 30*time.Millisecond, readBufSize+100)

	for i, w := range want {
		select {
		case p, ok := <-got:
			if !ok {
				t.Fatalf("connection ended before message %d", i)
			}
			if !bytes.Equal(p, w) {
				t.Fatalf("message %d: got %d bytes %.20q, want %d bytes %.20q", i, len(p), p, len(w), w)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d (%d bytes) never came back", i, len(w))
		}
	}
	if _, err := nc.Write(rawFrame(true, 0, OpClose, closePayload(make([]byte, maxCtrlLen), CloseNormal, ""), true)); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs); err != nil && !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	if n := recv(t, naps); n == 0 {
		t.Fatal("the reader never coalesced: the test streamed too slowly to exercise it")
	}
}
