package codec

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestEIOPacketRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		p      EIOPacket
		frame  string
		binary bool
	}{
		{name: "open", p: EIOPacket{Type: EIOOpen, Data: []byte(`{"sid":"x"}`)}, frame: `0{"sid":"x"}`},
		{name: "close", p: EIOPacket{Type: EIOClose}, frame: "1"},
		{name: "ping probe", p: EIOPacket{Type: EIOPing, Data: []byte("probe")}, frame: "2probe"},
		{name: "pong", p: EIOPacket{Type: EIOPong}, frame: "3"},
		{name: "text message", p: EIOPacket{Type: EIOMessage, Data: []byte("héllo")}, frame: "4héllo"},
		{name: "binary message", p: EIOPacket{Type: EIOMessage, Data: []byte{0, 1, 2, 0x1e}, Binary: true}, frame: "\x00\x01\x02\x1e", binary: true},
		{name: "upgrade", p: EIOPacket{Type: EIOUpgrade}, frame: "5"},
		{name: "noop", p: EIOPacket{Type: EIONoop}, frame: "6"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, bin := AppendEIOPacket(nil, tt.p)
			if string(got) != tt.frame || bin != tt.binary {
				t.Fatalf("encode = %q binary=%v, want %q binary=%v", got, bin, tt.frame, tt.binary)
			}
			p, err := DecodeEIOPacket(got, bin)
			if err != nil {
				t.Fatal(err)
			}
			if !eioEqual(p, tt.p) {
				t.Fatalf("decode = %+v, want %+v", p, tt.p)
			}
		})
	}
}

func TestDecodeEIOPacketErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		frame string
		err   error
	}{
		{"empty", "", ErrEIOEmpty},
		{"type 7", "7x", ErrEIOUnknownType},
		{"letter", "x", ErrEIOUnknownType},
		{"below zero", "/", ErrEIOUnknownType},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := DecodeEIOPacket([]byte(tt.frame), false); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestEIOPayload(t *testing.T) {
	t.Parallel()
	ps := []EIOPacket{
		{Type: EIOMessage, Data: []byte("hello")},
		{Type: EIOMessage, Data: []byte{1, 2, 3, 4}, Binary: true},
		{Type: EIOPing},
		{Type: EIOMessage, Data: []byte("€")},
	}
	got := AppendEIOPayload([]byte("prefix"), ps)
	want := "prefix4hello\x1ebAQIDBA==\x1e2\x1e4€"
	if string(got) != want {
		t.Fatalf("payload = %q, want %q", got, want)
	}
	dec, err := decodeAll(got[len("prefix"):])
	if err != nil {
		t.Fatal(err)
	}
	if len(dec) != len(ps) {
		t.Fatalf("decoded %d packets, want %d", len(dec), len(ps))
	}
	for i := range ps {
		if !eioEqual(dec[i], ps[i]) {
			t.Errorf("packet %d = %+v, want %+v", i, dec[i], ps[i])
		}
	}
}

func TestDecodeEIOPayloadErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name    string
		payload string
		err     error
	}{
		{"empty payload", "", ErrEIOEmpty},
		{"empty record", "4a\x1e\x1e4b", ErrEIOEmpty},
		{"trailing separator", "4a\x1e", ErrEIOEmpty},
		{"unknown type", "4a\x1e9b", ErrEIOUnknownType},
		{"bad base64", "b$$$", ErrEIOBadBase64},
		{"truncated base64", "bAQI", ErrEIOBadBase64},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := decodeAll([]byte(tt.payload)); !errors.Is(err, tt.err) {
				t.Fatalf("err = %v, want %v", err, tt.err)
			}
		})
	}
}

func TestAppendEIOZeroAlloc(t *testing.T) {
	buf := make([]byte, 0, 256)
	p := EIOPacket{Type: EIOMessage, Data: []byte(`["event",{"a":1}]`)}
	ps := []EIOPacket{p, p}
	n := testing.AllocsPerRun(100, func() {
		buf, _ = AppendEIOPacket(buf[:0], p)
		buf = AppendEIOPayload(buf[:0], ps)
	})
	if n != 0 {
		t.Fatalf("allocs = %v, want 0", n)
	}
}

// decodeAll collects the packets ScanEIOPayload yields, up to an error.
func decodeAll(payload []byte) ([]EIOPacket, error) {
	var ps []EIOPacket
	err := ScanEIOPayload(payload, func(p EIOPacket) bool {
		ps = append(ps, p)
		return true
	})
	return ps, err
}

// TestScanEIOPayloadInOrder: packets are yielded one by one in order,
// those before a bad record included (engine.io's decodePayload hands
// them over too); yield returning false stops the scan, and what follows
// is not looked at.
func TestScanEIOPayloadInOrder(t *testing.T) {
	t.Parallel()
	ps, err := decodeAll([]byte("4a\x1e2\x1ebAQI=\x1e9\x1e4never"))
	if !errors.Is(err, ErrEIOUnknownType) || len(ps) != 3 || string(ps[0].Data) != "a" || ps[1].Type != EIOPing || !ps[2].Binary {
		t.Fatalf("got %+v, %v; want 3 packets then ErrEIOUnknownType", ps, err)
	}
	n := 0
	err = ScanEIOPayload([]byte("4a\x1e4b\x1e9bad"), func(EIOPacket) bool { n++; return n < 2 })
	if err != nil || n != 2 {
		t.Fatalf("stopped scan: %d packets, %v; want 2, nil", n, err)
	}
}

// TestScanEIOPayloadManyTinyPackets is the regression test for a memory
// amplification: DecodeEIOPayload turned one 999,999-byte POST body of
// "6\x1e6\x1e..." into a slice of 500,000 packets (~110 MB allocated per
// body, unauthenticated). Scanning a maximum-size body of tiny packets must
// allocate nothing.
func TestScanEIOPayloadManyTinyPackets(t *testing.T) {
	body := append(bytes.Repeat([]byte("6\x1e"), 499_999), '6')
	n := 0
	allocs := testing.AllocsPerRun(3, func() {
		n = 0
		if err := ScanEIOPayload(body, func(EIOPacket) bool { n++; return true }); err != nil {
			t.Fatal(err)
		}
	})
	if n != 500_000 || allocs != 0 {
		t.Fatalf("%d packets, %v allocations per scan; want 500000, 0", n, allocs)
	}
}

func eioEqual(a, b EIOPacket) bool {
	return a.Type == b.Type && a.Binary == b.Binary && bytes.Equal(a.Data, b.Data)
}

// FuzzDecodePayload feeds arbitrary long-polling payloads, whole and split in
// two (as a POST body may arrive), and checks that decoding never panics and
// that what decodes re-encodes to something that decodes to the same packets.
func FuzzDecodePayload(f *testing.F) {
	for _, s := range []string{
		"4hello",
		"4hello\x1e4world",
		"bAQIDBA==",
		"4a\x1ebAQIDBA==\x1e2\x1e3probe\x1e5\x1e6\x1e1",
		`0{"sid":"abc","upgrades":["websocket"],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`,
		`40{"token":"x"}`,
		`42["message",{"to":"u1","body":"hi"}]` + "\x1e" + `430[{"ok":true}]`,
		"", "\x1e", "b", "b=", "7", "4\x1e", "bQQ==\n",
		strings.Repeat("6\x1e", 64) + "6", // many tiny packets (a memory amplification once)
	} {
		f.Add([]byte(s), uint16(len(s)/2))
	}
	f.Fuzz(func(t *testing.T, data []byte, cut uint16) {
		ps, err := decodeAll(data)
		if err != nil {
			// The packets before the bad record are a prefix of the input.
			if len(ps) > 0 {
				checkPayloadRoundTrip(t, ps)
			}
			return
		}
		checkPayloadRoundTrip(t, ps)
		// The same bytes arriving in two reads must decode identically once
		// joined; each half alone must not panic.
		c := int(cut) % (len(data) + 1)
		first, second := append([]byte(nil), data[:c]...), append([]byte(nil), data[c:]...)
		_, _ = decodeAll(first)
		_, _ = decodeAll(second)
		joined, err := decodeAll(append(first, second...))
		if err != nil || len(joined) != len(ps) {
			t.Fatalf("joined halves decode differently: %v", err)
		}
		for i := range ps {
			if !eioEqual(joined[i], ps[i]) {
				t.Fatalf("joined packet %d = %+v, want %+v", i, joined[i], ps[i])
			}
		}
	})
}

func checkPayloadRoundTrip(t *testing.T, ps []EIOPacket) {
	t.Helper()
	enc := AppendEIOPayload(nil, ps)
	again, err := decodeAll(enc)
	if err != nil {
		t.Fatalf("re-decode %q: %v", enc, err)
	}
	if len(again) != len(ps) {
		t.Fatalf("re-decoded %d packets, want %d", len(again), len(ps))
	}
	for i := range ps {
		if !eioEqual(again[i], ps[i]) {
			t.Fatalf("packet %d = %+v, want %+v", i, again[i], ps[i])
		}
	}
}

// FuzzDecodeEIOPacket feeds arbitrary WebSocket frames (text or binary),
// whole and split in two, and checks decode(encode(decode(x))) round trips.
func FuzzDecodeEIOPacket(f *testing.F) {
	for _, s := range []string{"4hello", "2probe", "3probe", "5", "6", "1", "", "9", "4", "\x00\xff"} {
		f.Add([]byte(s), false, uint16(1))
		f.Add([]byte(s), true, uint16(0))
	}
	f.Fuzz(func(t *testing.T, frame []byte, binary bool, cut uint16) {
		c := int(cut) % (len(frame) + 1)
		_, _ = DecodeEIOPacket(frame[:c], binary)
		_, _ = DecodeEIOPacket(frame[c:], binary)
		p, err := DecodeEIOPacket(frame, binary)
		if err != nil {
			return
		}
		enc, bin := AppendEIOPacket(nil, p)
		if bin != binary || !bytes.Equal(enc, frame) {
			t.Fatalf("re-encode = %q binary=%v, want %q binary=%v", enc, bin, frame, binary)
		}
		again, err := DecodeEIOPacket(enc, bin)
		if err != nil || !eioEqual(again, p) {
			t.Fatalf("round trip %+v -> %+v (%v)", p, again, err)
		}
		// Every packet also survives the polling form, unless its text holds
		// the record separator, which the payload form cannot carry.
		if p.Binary || !bytes.Contains(p.Data, []byte{EIORecordSeparator}) {
			checkPayloadRoundTrip(t, []EIOPacket{p})
		}
	})
}

func BenchmarkAppendEIOPacket(b *testing.B) {
	p := EIOPacket{Type: EIOMessage, Data: []byte(`2["message",{"to":"user-42","body":"hello there"}]`)}
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = AppendEIOPacket(buf[:0], p)
	}
}

func BenchmarkDecodeEIOPacket(b *testing.B) {
	frame := []byte(`42["message",{"to":"user-42","body":"hello there"}]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeEIOPacket(frame, false); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendEIOPayload(b *testing.B) {
	ps := []EIOPacket{
		{Type: EIOMessage, Data: []byte(`2["message",{"to":"user-42","body":"hello there"}]`)},
		{Type: EIOMessage, Data: bytes.Repeat([]byte{7}, 64), Binary: true},
		{Type: EIOPing},
	}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEIOPayload(buf[:0], ps)
	}
}

func BenchmarkScanEIOPayload(b *testing.B) {
	payload := []byte("42[\"message\",{\"to\":\"user-42\",\"body\":\"hello there\"}]\x1e2\x1e42[\"x\"]")
	n := 0
	yield := func(EIOPacket) bool { n++; return true }
	b.ReportAllocs()
	for b.Loop() {
		if err := ScanEIOPayload(payload, yield); err != nil {
			b.Fatal(err)
		}
	}
}
