package ws

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"testing"
)

// refBoundaries parses p frame by frame and returns, for every offset
// 0..len(p), whether a frame ends there (offset 0 counts as a boundary).
func refBoundaries(p []byte) []bool {
	at := make([]bool, len(p)+1)
	at[0] = true
	i := uint64(0)
	n := uint64(len(p))
	for {
		if i+2 > n {
			return at
		}
		hl := uint64(2)
		l := uint64(p[i+1] & lenMask)
		switch l {
		case 126:
			hl += 2
		case 127:
			hl += 8
		}
		if p[i+1]&maskBit != 0 {
			hl += 4
		}
		if i+hl > n {
			return at
		}
		switch l {
		case 126:
			l = uint64(binary.BigEndian.Uint16(p[i+2:]))
		case 127:
			l = binary.BigEndian.Uint64(p[i+2:])
		}
		if l > n-(i+hl) {
			return at
		}
		i += hl + l
		at[i] = true
	}
}

// randomStream builds count random frames (any opcode, masked or not).
func randomStream(r *rand.Rand, count int) []byte {
	var out []byte
	for range count {
		var n int
		switch r.IntN(10) {
		case 0:
			n = 126 + r.IntN(300)
		case 1:
			n = []int{65535, 65536, 70000}[r.IntN(3)]
		default:
			n = r.IntN(130)
		}
		p := make([]byte, n)
		for i := range p {
			p[i] = byte(r.Uint32())
		}
		op := []byte{OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong}[r.IntN(6)]
		out = append(out, rawFrame(r.IntN(2) == 0, 0, op, p, r.IntN(2) == 0)...)
	}
	return out
}

func TestFrameScannerEveryOffset(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 6 {
		stream := randomStream(r, 4+round*3)
		want := refBoundaries(stream)
		if !want[len(stream)] {
			t.Fatal("reference parser lost the end of a well-formed stream")
		}
		// One byte at a time: the answer after every prefix.
		var s FrameScanner
		for k := 1; k <= len(stream); k++ {
			s.Feed(stream[k-1 : k])
			if s.AtBoundary() != want[k] {
				t.Fatalf("round %d byte-wise: offset %d got %v want %v", round, k, s.AtBoundary(), want[k])
			}
		}
		// Two pieces split at every offset near each boundary (and a sample elsewhere).
		for k := 0; k <= len(stream); k++ {
			near := want[k] || (k > 0 && want[k-1]) || (k < len(stream) && want[k+1]) || k%97 == 0
			if !near && k > 0 && k < 16 {
				near = true
			}
			if !near {
				continue
			}
			var s FrameScanner
			s.Feed(stream[:k])
			if s.AtBoundary() != want[k] {
				t.Fatalf("round %d split %d: got %v want %v", round, k, s.AtBoundary(), want[k])
			}
			s.Feed(stream[k:])
			if !s.AtBoundary() {
				t.Fatalf("round %d split %d: not at boundary at end", round, k)
			}
		}
	}
}

func TestFrameScannerAllTwoWaySplits(t *testing.T) {
	// Small frames only, so every split offset of the stream is tried.
	r := rand.New(rand.NewPCG(5, 6))
	var stream []byte
	for range 40 {
		n := []int{0, 1, 125, 126, 300}[r.IntN(5)]
		stream = append(stream, rawFrame(true, 0, OpBinary, make([]byte, n), r.IntN(2) == 0)...)
	}
	want := refBoundaries(stream)
	for k := 0; k <= len(stream); k++ {
		var s FrameScanner
		s.Feed(stream[:k])
		if s.AtBoundary() != want[k] {
			t.Fatalf("split %d: got %v want %v", k, s.AtBoundary(), want[k])
		}
		s.Feed(stream[k:])
		if !s.AtBoundary() {
			t.Fatalf("split %d: not at boundary at end", k)
		}
	}
}

func TestFrameScannerHeaderAcrossFeeds(t *testing.T) {
	// A 64-bit length masked header is 14 bytes; feed it in every shape.
	frame := rawFrame(true, 0, OpBinary, make([]byte, 70000), true)
	for a := 0; a <= maxHeaderLen; a++ {
		for b := a; b <= maxHeaderLen; b++ {
			var s FrameScanner
			s.Feed(frame[:a])
			s.Feed(frame[a:b])
			if (a > 0 || b > 0) && s.AtBoundary() {
				t.Fatalf("a=%d b=%d: boundary inside the header", a, b)
			}
			s.Feed(frame[b : len(frame)-1])
			if s.AtBoundary() {
				t.Fatal("boundary before the last byte")
			}
			s.Feed(frame[len(frame)-1:])
			if !s.AtBoundary() {
				t.Fatal("no boundary at the end")
			}
		}
	}
}

func TestFrameScannerNoAllocs(t *testing.T) {
	stream := randomStream(rand.New(rand.NewPCG(3, 4)), 20)
	var s FrameScanner
	allocs := testing.AllocsPerRun(100, func() {
		for i := 0; i < len(stream); i += 7 {
			s.Feed(stream[i:min(i+7, len(stream))])
		}
	})
	if allocs != 0 {
		t.Fatalf("Feed allocates %v times", allocs)
	}
}

func TestAppendCloseFrame(t *testing.T) {
	for _, masked := range []bool{false, true} {
		long := string(bytes.Repeat([]byte("é"), 100)) // 200 bytes: cut on a rune boundary
		f := AppendCloseFrame([]byte("prefix"), CloseGoingAway, long, masked)
		if string(f[:6]) != "prefix" {
			t.Fatal("dst lost")
		}
		fin, op, p, err := readRawFrame(bytes.NewReader(f[6:]))
		if err != nil || !fin || op != OpClose {
			t.Fatalf("fin=%v op=%d err=%v", fin, op, err)
		}
		if got := (f[7] & maskBit) != 0; got != masked {
			t.Fatalf("mask bit %v", got)
		}
		if len(p) > maxCtrlLen || int(binary.BigEndian.Uint16(p)) != CloseGoingAway {
			t.Fatalf("payload %d bytes, code %d", len(p), binary.BigEndian.Uint16(p))
		}
		if r := string(p[2:]); !bytes.HasPrefix([]byte(long), p[2:]) || len(r)%2 != 0 {
			t.Fatalf("reason cut badly: %q", r)
		}
		var s FrameScanner
		s.Feed(f[6:])
		if !s.AtBoundary() {
			t.Fatal("scanner disagrees with AppendCloseFrame")
		}
	}
	if f := AppendCloseFrame(nil, CloseNoStatus, "", false); !bytes.Equal(f, []byte{0x88, 0}) {
		t.Fatalf("empty close %x", f)
	}
}

func TestAppendCloseFrameAcceptedByConn(t *testing.T) {
	// A proxy injects a masked Close 1001 toward our server.
	url, errs := startServer(t, Config{}, echo)
	nc, br := rawClient(t, url, "")
	if _, err := nc.Write(AppendCloseFrame(nil, CloseGoingAway, "shutdown", true)); err != nil {
		t.Fatal(err)
	}
	_, op, p, err := readRawFrame(br)
	if err != nil || op != OpClose || binary.BigEndian.Uint16(p) != CloseGoingAway {
		t.Fatalf("op=%d p=%v err=%v", op, p, err)
	}
	ce := wantCloseError(t, recv(t, errs), CloseGoingAway)
	if ce.Reason != "shutdown" {
		t.Fatalf("reason %q", ce.Reason)
	}
}
