package ws

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"testing"
)

// echoMessages echoes with ReadMessages (the dispatch-inside-RawConn.Read
// path) and WriteMessages.
func echoMessages(c *Conn) error {
	err := c.ReadMessages(func(op int, p []byte) error {
		return c.WriteMessages([]Message{{Op: op, Data: p}})
	})
	var ce *CloseError
	if errors.As(err, &ce) {
		return nil
	}
	return err
}

// TestReadMessagesBursts: many frames per read (sent in one write), split
// frames, fragments with interleaved pings, payloads larger than the read
// buffer: every message comes back whole and in order.
func TestReadMessagesBursts(t *testing.T) {
	url, errs := startServer(t, Config{MaxMessageBytes: 1 << 20}, echoMessages)
	nc, br := rawClient(t, url, "")
	var stream, want []byte
	var sizes []int
	for i, n := range []int{0, 1, 30, 125, 126, 300, 65535, 65536, readBufSize - 1, readBufSize, 3 * readBufSize} {
		p := bytes.Repeat([]byte{byte('a' + i)}, n)
		sizes = append(sizes, n)
		want = append(want, p...)
		stream = append(stream, rawFrame(true, 0, OpBinary, p, true)...)
	}
	// A fragmented text message with a ping inside.
	stream = append(stream, rawFrame(false, 0, OpText, []byte("he"), true)...)
	stream = append(stream, rawFrame(true, 0, OpPing, []byte("pi"), true)...)
	stream = append(stream, rawFrame(true, 0, OpContinuation, []byte("llo"), true)...)
	// Written in odd pieces, so frames straddle reads.
	go func() {
		for len(stream) > 0 {
			n := min(len(stream), 777)
			if _, err := nc.Write(stream[:n]); err != nil {
				return
			}
			stream = stream[n:]
		}
	}()
	var got []byte
	for i, n := range sizes {
		fin, op, p, err := readRawFrame(br)
		if err != nil || !fin || op != OpBinary || len(p) != n {
			t.Fatalf("message %d: fin=%v op=%d len=%d (want %d) err=%v", i, fin, op, len(p), n, err)
		}
		got = append(got, p...)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("payloads differ")
	}
	if _, op, p, err := readRawFrame(br); err != nil || op != OpPong || string(p) != "pi" {
		t.Fatalf("pong: op=%d p=%q err=%v", op, p, err)
	}
	if _, op, p, err := readRawFrame(br); err != nil || op != OpText || string(p) != "hello" {
		t.Fatalf("text: op=%d p=%q err=%v", op, p, err)
	}
	if _, err := nc.Write(rawFrame(true, 0, OpClose, closePayload(make([]byte, maxCtrlLen), CloseNormal, ""), true)); err != nil {
		t.Fatal(err)
	}
	if _, op, _, err := readRawFrame(br); err != nil || op != OpClose {
		t.Fatalf("close reply: op=%d err=%v", op, err)
	}
	if err := recv(t, errs); err != nil {
		t.Fatal(err)
	}
}

// TestReadMessagesCloseFromHandler: Close called from fn (inside the
// RawConn.Read) must not deadlock; the peer sees the connection end.
func TestReadMessagesCloseFromHandler(t *testing.T) {
	url, errs := startServer(t, Config{}, func(c *Conn) error {
		return c.ReadMessages(func(op int, p []byte) error {
			if string(p) == "close" {
				_ = c.Close()
			}
			return nil
		})
	})
	nc, br := rawClient(t, url, "")
	var stream []byte
	for _, m := range []string{"a", "close", "after"} {
		stream = append(stream, rawFrame(true, 0, OpText, []byte(m), true)...)
	}
	if _, err := nc.Write(stream); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs); !errors.Is(err, ErrClosed) {
		t.Fatalf("server err %v, want ErrClosed", err)
	}
	if _, _, _, err := readRawFrame(br); err == nil {
		t.Fatal("connection still open")
	}
}

// TestReadMessagesViolations: errors detected inside ReadMessages close
// with the right code (fail's linger runs outside the RawConn.Read).
func TestReadMessagesViolations(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		code  int
		err   error
	}{
		{"too big", rawFrame(true, 0, OpBinary, make([]byte, 1001), true), CloseMessageTooBig, ErrTooBig},
		{"bad utf8", rawFrame(true, 0, OpText, []byte{0xff, 0xfe}, true), CloseInvalidPayload, ErrInvalidUTF8},
		{"unmasked", rawFrame(true, 0, OpText, []byte("x"), false), CloseProtocolError, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, errs := startServer(t, Config{MaxMessageBytes: 1000}, echoMessages)
			nc, br := rawClient(t, url, "")
			stream := append(rawFrame(true, 0, OpText, []byte("ok"), true), tc.frame...)
			if _, err := nc.Write(stream); err != nil {
				t.Fatal(err)
			}
			if _, op, p, err := readRawFrame(br); err != nil || op != OpText || string(p) != "ok" {
				t.Fatalf("echo: op=%d p=%q err=%v", op, p, err)
			}
			_, op, p, err := readRawFrame(br)
			if err != nil || op != OpClose || len(p) < 2 || int(p[0])<<8|int(p[1]) != tc.code {
				t.Fatalf("op=%d p=%v err=%v", op, p, err)
			}
			_ = nc.(*net.TCPConn).CloseWrite()
			if err := recv(t, errs); !errors.Is(err, tc.err) {
				t.Fatalf("server err %v", err)
			}
		})
	}
}

// TestWriteMessagesBatch: a batch of mixed sizes (copied small frames,
// referenced large ones) arrives whole and in order, both sides.
func TestWriteMessagesBatch(t *testing.T) {
	var msgs []Message
	for i, n := range []int{0, 5, batchLarge - 1, batchLarge, 70000, 3, smallFrame, 1} {
		op := OpBinary
		if i%2 == 0 {
			op = OpText
		}
		msgs = append(msgs, Message{Op: op, Data: bytes.Repeat([]byte{byte('a' + i)}, n)})
	}
	check := func(c *Conn) error {
		for i, m := range msgs {
			op, p, err := c.ReadMessage()
			if err != nil {
				return err
			}
			if op != m.Op || !bytes.Equal(p, m.Data) {
				return fmt.Errorf("message %d: op %d len %d, want op %d len %d", i, op, len(p), m.Op, len(m.Data))
			}
		}
		return nil
	}
	url, errs := startServer(t, Config{}, func(c *Conn) error {
		if err := check(c); err != nil {
			return err
		}
		return c.WriteMessages(msgs)
	})
	c := dial(t, url, Config{})
	defer c.Close()
	if err := c.WriteMessages(msgs); err != nil {
		t.Fatal(err)
	}
	if err := check(c); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, errs); err != nil {
		t.Fatal(err)
	}
}

// TestTryWriteMessages: small batches go out at once; a batch larger than
// the pooled buffer is refused with nothing written.
func TestTryWriteMessages(t *testing.T) {
	url, errs := startServer(t, Config{}, echoMessages)
	c := dial(t, url, Config{})
	defer c.Close()
	ok, err := c.TryWriteMessages([]Message{{Op: OpText, Data: []byte("one")}, {Op: OpBinary, Data: []byte("two")}})
	if err != nil || !ok {
		t.Fatalf("ok=%v err=%v", ok, err)
	}
	if ok, err := c.TryWriteMessages([]Message{{Op: OpBinary, Data: make([]byte, smallFrame)}}); ok || err != nil {
		t.Fatalf("large: ok=%v err=%v, want false, nil", ok, err)
	}
	if c.Pending() {
		t.Fatal("pending after a whole write")
	}
	for _, want := range []string{"one", "two"} {
		_, p, err := c.ReadMessage()
		if err != nil || string(p) != want {
			t.Fatalf("got %q err %v, want %q", p, err, want)
		}
	}
	if err := c.Flush(); err != nil {
		t.Fatal(err)
	}
	_ = c.WriteClose(CloseNormal, "")
	if _, _, err := c.ReadMessage(); err == nil {
		t.Fatal("no close")
	}
	if err := recv(t, errs); err != nil {
		t.Fatal(err)
	}
}

// TestReadMessagesIdle: the idle hook runs only once every message
// received so far was given to fn: after a burst written in one piece,
// never between its messages.
func TestReadMessagesIdle(t *testing.T) {
	type event struct {
		idle bool
		msg  string
	}
	events := make(chan event, 64)
	url, errs := startServer(t, Config{}, func(c *Conn) error {
		err := c.ReadMessagesIdle(func(op int, p []byte) error {
			events <- event{msg: string(p)}
			return nil
		}, func() { events <- event{idle: true} })
		if ce := (*CloseError)(nil); errors.As(err, &ce) {
			return nil
		}
		return err
	})
	nc, br := rawClient(t, url, "")
	var burst []byte
	for _, m := range []string{"a", "b", "c"} {
		burst = append(burst, rawFrame(true, 0, OpText, []byte(m), true)...)
	}
	if _, err := nc.Write(burst); err != nil {
		t.Fatal(err)
	}
	// Events up to the idle that follows "c": idles may come before the
	// burst arrives, never between its messages.
	var seq []string
	for {
		e := recv(t, events)
		if e.idle {
			if len(seq) == 3 {
				break
			}
			if len(seq) != 0 {
				t.Fatalf("idle after %v, inside the burst", seq)
			}
			continue
		}
		seq = append(seq, e.msg)
	}
	if _, err := nc.Write(rawFrame(true, 0, OpClose, closePayload(make([]byte, maxCtrlLen), CloseNormal, ""), true)); err != nil {
		t.Fatal(err)
	}
	_, _, _, _ = readRawFrame(br)
	if err := recv(t, errs); err != nil {
		t.Fatal(err)
	}
}
