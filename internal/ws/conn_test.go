package ws

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	url, _ := startServer(t, Config{MaxMessageBytes: 2 << 20}, echo)
	c := dial(t, url, Config{MaxMessageBytes: 2 << 20})
	for _, size := range []int{0, 1, 125, 126, 127, 65535, 65536, smallFrame - 14, smallFrame, 1 << 20} {
		for _, op := range []int{OpText, OpBinary} {
			t.Run(fmt.Sprintf("op%d/%d", op, size), func(t *testing.T) {
				p := make([]byte, size)
				for i := range p {
					p[i] = byte('a' + i%26)
				}
				orig := bytes.Clone(p)
				if err := c.WriteMessage(op, p); err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(p, orig) {
					t.Fatal("WriteMessage modified the caller's slice")
				}
				gotOp, got, err := c.ReadMessage()
				if err != nil {
					t.Fatal(err)
				}
				if gotOp != op || !bytes.Equal(got, p) {
					t.Fatalf("got op %d len %d, want op %d len %d", gotOp, len(got), op, len(p))
				}
			})
		}
	}
}

func TestFragmentedWithInterleavedPing(t *testing.T) {
	url, _ := startServer(t, Config{}, echo)
	nc, br := rawClient(t, url, "")
	var stream []byte
	stream = append(stream, rawFrame(false, 0, OpText, []byte("hel"), true)...)
	stream = append(stream, rawFrame(true, 0, OpPing, []byte("p1"), true)...)
	stream = append(stream, rawFrame(false, 0, OpContinuation, nil, true)...)
	stream = append(stream, rawFrame(false, 0, OpContinuation, bytes.Repeat([]byte("l"), 300), true)...)
	stream = append(stream, rawFrame(true, 0, OpPong, []byte("unsolicited"), true)...)
	stream = append(stream, rawFrame(true, 0, OpContinuation, []byte("o"), true)...)
	if _, err := nc.Write(stream); err != nil {
		t.Fatal(err)
	}
	fin, op, p, err := readRawFrame(br)
	if err != nil || !fin || op != OpPong || string(p) != "p1" {
		t.Fatalf("pong: fin=%v op=%d p=%q err=%v", fin, op, p, err)
	}
	fin, op, p, err = readRawFrame(br)
	want := "hel" + string(bytes.Repeat([]byte("l"), 300)) + "o"
	if err != nil || !fin || op != OpText || string(p) != want {
		t.Fatalf("echo: fin=%v op=%d len=%d err=%v", fin, op, len(p), err)
	}
}

func TestPendingBytesAfterHandshake(t *testing.T) {
	// The first frame travels in the same segment as the HTTP request, so it
	// sits in net/http's bufio.Reader when Accept hijacks.
	url, _ := startServer(t, Config{}, echo)
	_, br := rawClient(t, url, string(rawFrame(true, 0, OpBinary, []byte("early"), true)))
	_, op, p, err := readRawFrame(br)
	if err != nil || op != OpBinary || string(p) != "early" {
		t.Fatalf("op=%d p=%q err=%v", op, p, err)
	}
}

func TestPingPongClient(t *testing.T) {
	pinged := make(chan []byte, 1)
	url, _ := startServer(t, Config{}, func(c *Conn) error {
		// Server pings; the client's ReadMessage answers.
		if err := c.WritePing([]byte("srv")); err != nil {
			return err
		}
		_, p, err := c.ReadMessage() // pong is skipped; then the data message
		pinged <- p
		return err
	})
	c := dial(t, url, Config{})
	done := make(chan error, 1)
	go func() { _, _, err := c.ReadMessage(); done <- err }()
	if err := c.WriteMessage(OpText, []byte("after")); err != nil {
		t.Fatal(err)
	}
	if p := recv(t, pinged); string(p) != "after" {
		t.Fatalf("server got %q", p)
	}
	// The server handler returned and closed: the client sees EOF.
	if err := recv(t, done); err == nil {
		t.Fatal("want error after server close")
	}
}

func TestCloseHandshakeClientInitiated(t *testing.T) {
	url, errs := startServer(t, Config{}, echo)
	c := dial(t, url, Config{})
	if err := c.WriteClose(4000, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(OpText, []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after close: %v", err)
	}
	_, _, err := c.ReadMessage()
	wantCloseError(t, err, 4000)
	ce := wantCloseError(t, recv(t, errs), 4000)
	if ce.Reason != "bye" {
		t.Fatalf("reason %q", ce.Reason)
	}
	// Sticky.
	_, _, err2 := c.ReadMessage()
	if err2 != err {
		t.Fatalf("second read %v", err2)
	}
}

func TestCloseHandshakeServerInitiated(t *testing.T) {
	url, errs := startServer(t, Config{}, func(c *Conn) error {
		if err := c.WriteClose(CloseGoingAway, "restart"); err != nil {
			return err
		}
		_, _, err := c.ReadMessage()
		return err
	})
	c := dial(t, url, Config{})
	_, _, err := c.ReadMessage()
	ce := wantCloseError(t, err, CloseGoingAway)
	if ce.Reason != "restart" {
		t.Fatalf("reason %q", ce.Reason)
	}
	wantCloseError(t, recv(t, errs), CloseGoingAway)
}

func TestCloseNoStatus(t *testing.T) {
	url, errs := startServer(t, Config{}, echo)
	c := dial(t, url, Config{})
	if err := c.WriteClose(CloseNoStatus, ""); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	wantCloseError(t, err, CloseNoStatus)
	wantCloseError(t, recv(t, errs), CloseNoStatus)
}

func TestWriteCloseInvalidCode(t *testing.T) {
	url, _ := startServer(t, Config{}, echo)
	c := dial(t, url, Config{})
	for _, code := range []int{0, 999, 1004, 1005 + 1, 1015, 2000, 5000} {
		if err := c.WriteClose(code, ""); err == nil {
			t.Errorf("WriteClose(%d) succeeded", code)
		}
	}
}

func TestMessageTooBig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		parts []int
	}{
		{"single", []int{1001}},
		{"fragments", []int{600, 401}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, errs := startServer(t, Config{MaxMessageBytes: 1000}, echo)
			nc, br := rawClient(t, url, "")
			for i, n := range tc.parts {
				op := byte(OpBinary)
				if i > 0 {
					op = OpContinuation
				}
				if _, err := nc.Write(rawFrame(i == len(tc.parts)-1, 0, op, make([]byte, n), true)); err != nil {
					break // the server may already have closed
				}
			}
			_, op, p, err := readRawFrame(br)
			if err != nil || op != OpClose || len(p) < 2 || int(p[0])<<8|int(p[1]) != CloseMessageTooBig {
				t.Fatalf("op=%d p=%v err=%v", op, p, err)
			}
			_ = nc.(*net.TCPConn).CloseWrite()
			if err := recv(t, errs); !errors.Is(err, ErrTooBig) {
				t.Fatalf("server err %v", err)
			}
		})
	}
}

func TestMessageTooBigClientSide(t *testing.T) {
	url, errs := startServer(t, Config{}, func(c *Conn) error {
		if err := c.WriteMessage(OpBinary, make([]byte, 70000)); err != nil {
			return err
		}
		_, _, err := c.ReadMessage()
		return err
	})
	c := dial(t, url, Config{MaxMessageBytes: 65536})
	if _, _, err := c.ReadMessage(); !errors.Is(err, ErrTooBig) {
		t.Fatalf("client err %v", err)
	}
	wantCloseError(t, recv(t, errs), CloseMessageTooBig)
}

func TestProtocolViolations(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 126)
	for _, tc := range []struct {
		name   string
		frames [][]byte
		code   int
		want   error
	}{
		{"unmasked", [][]byte{rawFrame(true, 0, OpText, []byte("hi"), false)}, CloseProtocolError, ErrProtocol},
		{"rsv1", [][]byte{rawFrame(true, 4, OpText, []byte("hi"), true)}, CloseProtocolError, ErrProtocol},
		{"rsv3", [][]byte{rawFrame(true, 1, OpBinary, nil, true)}, CloseProtocolError, ErrProtocol},
		{"opcode3", [][]byte{rawFrame(true, 0, 3, nil, true)}, CloseProtocolError, ErrProtocol},
		{"opcodeB", [][]byte{rawFrame(true, 0, 0xB, nil, true)}, CloseProtocolError, ErrProtocol},
		{"orphan continuation", [][]byte{rawFrame(true, 0, OpContinuation, []byte("x"), true)}, CloseProtocolError, ErrProtocol},
		{"text inside fragmented", [][]byte{rawFrame(false, 0, OpText, []byte("a"), true), rawFrame(true, 0, OpText, []byte("b"), true)}, CloseProtocolError, ErrProtocol},
		{"fragmented ping", [][]byte{rawFrame(false, 0, OpPing, nil, true)}, CloseProtocolError, ErrProtocol},
		{"long ping", [][]byte{rawFrame(true, 0, OpPing, long, true)}, CloseProtocolError, ErrProtocol},
		{"close 1 byte", [][]byte{rawFrame(true, 0, OpClose, []byte{3}, true)}, CloseProtocolError, ErrProtocol},
		{"close code 1005", [][]byte{rawFrame(true, 0, OpClose, []byte{0x03, 0xed}, true)}, CloseProtocolError, ErrProtocol},
		{"close code 999", [][]byte{rawFrame(true, 0, OpClose, []byte{0x03, 0xe7}, true)}, CloseProtocolError, ErrProtocol},
		{"close bad utf8", [][]byte{rawFrame(true, 0, OpClose, []byte{0x03, 0xe8, 0xff}, true)}, CloseInvalidPayload, ErrInvalidUTF8},
		{"text bad utf8", [][]byte{rawFrame(true, 0, OpText, []byte{'a', 0xc3}, true)}, CloseInvalidPayload, ErrInvalidUTF8},
		{"fragmented bad utf8", [][]byte{rawFrame(false, 0, OpText, []byte{0xe2, 0x82}, true), rawFrame(true, 0, OpContinuation, []byte{0x28}, true)}, CloseInvalidPayload, ErrInvalidUTF8},
		{"length high bit", [][]byte{{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}}, CloseProtocolError, ErrProtocol},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, errs := startServer(t, Config{}, echo)
			nc, br := rawClient(t, url, "")
			for _, f := range tc.frames {
				if _, err := nc.Write(f); err != nil {
					break
				}
			}
			_, op, p, err := readRawFrame(br)
			if err != nil || op != OpClose || len(p) < 2 {
				t.Fatalf("op=%d p=%v err=%v", op, p, err)
			}
			if code := int(p[0])<<8 | int(p[1]); code != tc.code {
				t.Fatalf("close code %d, want %d", code, tc.code)
			}
			// Like a real peer, stop sending; the server then drops TCP.
			_ = nc.(*net.TCPConn).CloseWrite()
			if _, err := io.ReadAll(br); err != nil {
				t.Fatalf("drain: %v", err)
			}
			if err := recv(t, errs); !errors.Is(err, tc.want) {
				t.Fatalf("server err %v, want %v", err, tc.want)
			}
		})
	}
}

func TestClientRejectsMaskedServerFrame(t *testing.T) {
	url, _ := startServer(t, Config{}, func(c *Conn) error {
		// Write a masked frame behind the Conn's back.
		if _, err := c.NetConn().Write(rawFrame(true, 0, OpText, []byte("m"), true)); err != nil {
			return err
		}
		_, _, err := c.ReadMessage()
		return err
	})
	c := dial(t, url, Config{})
	if _, _, err := c.ReadMessage(); !errors.Is(err, ErrProtocol) {
		t.Fatalf("client err %v", err)
	}
}

func TestConcurrentWriters(t *testing.T) {
	const writers, perWriter = 6, 60
	sizes := []int{1, 125, 200, 5000, smallFrame + 100, 40000}
	check := func(t *testing.T, p []byte) {
		t.Helper()
		if len(p) < 1 {
			t.Fatal("empty message")
		}
		for i := range p {
			if p[i] != p[0] {
				t.Fatalf("corrupt message of %d bytes at %d", len(p), i)
			}
		}
	}
	fill := func(w, i int) []byte {
		return bytes.Repeat([]byte{byte('A' + w)}, sizes[(w+i)%len(sizes)])
	}
	t.Run("client", func(t *testing.T) {
		url, _ := startServer(t, Config{}, echo)
		c := dial(t, url, Config{})
		var wg sync.WaitGroup
		for w := range writers {
			wg.Go(func() {
				for i := range perWriter {
					if err := c.WriteMessage(OpBinary, fill(w, i)); err != nil {
						t.Error(err)
						return
					}
				}
			})
		}
		for range writers * perWriter {
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			check(t, p)
		}
		wg.Wait()
	})
	t.Run("server", func(t *testing.T) {
		url, errs := startServer(t, Config{}, func(c *Conn) error {
			var wg sync.WaitGroup
			for w := range writers {
				wg.Go(func() {
					for i := range perWriter {
						if c.WriteMessage(OpBinary, fill(w, i)) != nil {
							return
						}
					}
				})
			}
			wg.Wait()
			_, _, err := c.ReadMessage()
			return err
		})
		c := dial(t, url, Config{})
		for range writers * perWriter {
			_, p, err := c.ReadMessage()
			if err != nil {
				t.Fatal(err)
			}
			check(t, p)
		}
		if err := c.WriteClose(CloseNormal, ""); err != nil {
			t.Fatal(err)
		}
		wantCloseError(t, recv(t, errs), CloseNormal)
	})
}

func TestCloseUnblocksRead(t *testing.T) {
	url, _ := startServer(t, Config{}, echo)
	c := dial(t, url, Config{})
	done := make(chan error, 1)
	go func() { _, _, err := c.ReadMessage(); done <- err }()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := recv(t, done); !errors.Is(err, ErrClosed) {
		t.Fatalf("read after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := c.WriteMessage(OpText, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("write after Close: %v", err)
	}
}

func TestMaskBytes(t *testing.T) {
	for n := range 80 {
		for pos := range 4 {
			key := rand.Uint32()
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(rand.Uint32())
			}
			want := bytes.Clone(b)
			for i := range want {
				want[i] ^= byte(key >> (8 * ((pos + i) % 4)))
			}
			if next := maskBytes(key, pos, b); next != (pos+n)%4 {
				t.Fatalf("next=%d", next)
			}
			if !bytes.Equal(b, want) {
				t.Fatalf("n=%d pos=%d mismatch", n, pos)
			}
		}
	}
}

func TestTooBigFromHeaderAlone(t *testing.T) {
	// A header announcing 1 TiB must be refused before any allocation.
	url, errs := startServer(t, Config{}, echo)
	nc, br := rawClient(t, url, "")
	hdr := []byte{0x82, 0x80 | 127, 0, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4}
	if _, err := nc.Write(hdr); err != nil {
		t.Fatal(err)
	}
	_, op, p, err := readRawFrame(br)
	if err != nil || op != OpClose || int(p[0])<<8|int(p[1]) != CloseMessageTooBig {
		t.Fatalf("op=%d p=%v err=%v", op, p, err)
	}
	_ = nc.(*net.TCPConn).CloseWrite()
	if err := recv(t, errs); !errors.Is(err, ErrTooBig) {
		t.Fatalf("server err %v", err)
	}
}

func TestWriteTimeout(t *testing.T) {
	// The raw client never reads: socket buffers fill and a write times out.
	url, errs := startServer(t, Config{WriteTimeout: 100 * time.Millisecond}, func(c *Conn) error {
		p := make([]byte, 1<<20)
		for range 200 {
			if err := c.WriteMessage(OpBinary, p); err != nil {
				return err
			}
		}
		return nil
	})
	rawClient(t, url, "")
	err := recv(t, errs)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err %v, want a write deadline error", err)
	}
}

// eofConn serves src once, then io.EOF.
type eofConn struct{ memConn }

func (e *eofConn) Read(p []byte) (int, error) {
	if e.off == len(e.src) {
		return 0, io.EOF
	}
	return e.memConn.Read(p)
}

func TestLargeFrameAllocatesAsBytesArrive(t *testing.T) {
	// A peer that announces 1 MiB but sends 10 bytes must not make us
	// allocate the whole megabyte up front.
	c := newConn(&eofConn{memConn{src: make([]byte, 10)}}, true, Config{}, nil)
	msg, err := c.readPayload(nil, 1<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v", err)
	}
	if cap(msg) > 2*growStep {
		t.Fatalf("allocated %d bytes for 10 received", cap(msg))
	}
	// And a full 1 MiB frame still arrives intact.
	want := bytes.Repeat([]byte("0123456789abcdef"), 1<<16)
	c = newConn(&eofConn{memConn{src: want}}, true, Config{}, nil)
	got, err := c.readPayload(nil, int64(len(want)))
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("err %v, equal %v", err, bytes.Equal(got, want))
	}
}
