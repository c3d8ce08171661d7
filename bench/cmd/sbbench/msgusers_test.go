package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// chatServer is a one-process stand-in for the messaging scenario's
// backends: the user protocol (login, dm, pub → msg) on internal/sio.
func chatServer(t *testing.T) (port string) {
	t.Helper()
	srv := sio.NewServer(sio.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var mu sync.Mutex
	users := map[string]*sio.Socket{}
	nsp := srv.Of("/")
	okAck := func(ack sio.Ack, ok bool) {
		if ack != nil {
			_ = ack(sio.Args(json.RawMessage(map[bool]string{true: `{"ok":true}`, false: `{"ok":false,"code":"BAD_REQUEST"}`}[ok])))
		}
	}
	nsp.On("login", func(s *sio.Socket, m sio.Message, ack sio.Ack) {
		var name string
		if len(m.Args) == 0 || json.Unmarshal(m.Args[0], &name) != nil || name == "" {
			okAck(ack, false)
			return
		}
		s.SetData(name)
		mu.Lock()
		users[name] = s
		mu.Unlock()
		okAck(ack, true)
	})
	relay := func(s *sio.Socket, m sio.Message, ack sio.Ack, dm bool) {
		from, _ := s.Data().(string)
		var a struct{ To, Text string }
		if from == "" || len(m.Args) == 0 || json.Unmarshal(m.Args[0], &a) != nil {
			okAck(ack, false)
			return
		}
		kind := "pub"
		if dm {
			kind = "dm"
		}
		b, _ := json.Marshal(map[string]string{"kind": kind, "from": from, "text": a.Text})
		mu.Lock()
		var to []*sio.Socket
		for n, u := range users {
			if (dm && n == a.To) || (!dm && n != from) {
				to = append(to, u)
			}
		}
		mu.Unlock()
		for _, u := range to {
			_ = u.Emit("msg", sio.Args(b))
		}
		okAck(ack, !dm || len(to) == 1)
	}
	nsp.On("dm", func(s *sio.Socket, m sio.Message, ack sio.Ack) { relay(s, m, ack, true) })
	nsp.On("pub", func(s *sio.Socket, m sio.Message, ack sio.Ack) { relay(s, m, ack, false) })
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		hs.Close()
	})
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(hs.URL, "http://"))
	return port
}

func TestMsgUsers(t *testing.T) {
	port := chatServer(t)
	for _, kind := range []string{"dm", "pub"} {
		t.Run(kind, func(t *testing.T) {
			const users = 4
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var out bytes.Buffer
			res, err := runMsgUsers(ctx, msgUsersConfig{Ports: []string{port}, Host: "127.0.0.1", Users: users, Count: users,
				Kind: kind, Rate: 200, Duration: 100 * time.Millisecond, StartOnStdin: true, Settle: 50 * time.Millisecond,
				SettleMax: 10 * time.Second, Prefix: "u"}, strings.NewReader("go\n"), &out)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(lines) != 2 || lines[0] != "ready 4" {
				t.Fatalf("output %q, want ready 4 and a JSON line", out.String())
			}
			want := res.Sent
			if kind == "pub" {
				want *= users - 1
			}
			var histN int64
			for _, n := range res.Hist {
				histN += n
			}
			if res.Sent != 20 || res.Received != want || histN != want || res.Errors != 0 || res.SendErrors != 0 {
				t.Errorf("result %+v, want 20 sent, %d received and in the histogram, no errors", res, want)
			}
			// The JSON line is what the harness parses.
			var back MsgUsersResult
			if err := json.Unmarshal([]byte(lines[1]), &back); err != nil || back.Received != res.Received || back.Sent != res.Sent {
				t.Errorf("JSON line %s: %v %+v", lines[1], err, back)
			}
		})
	}
}

func TestStampOf(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{`{"kind":"dm","from":"u1","text":"u1|7|123456","via":8311}`, 123456, true},
		{`{"text":"u1|7|99|xxxx"}`, 99, true},
		{`{"kind": "pub", "text": "u2|1|42"}`, 42, true},
		{`{"text":"hello"}`, 0, false},
		{`[1,2]`, 0, false},
	} {
		got, ok := stampOf([]byte(tc.in))
		if got != tc.want || ok != tc.ok {
			t.Errorf("stampOf(%s) = %d %v, want %d %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMsgHist(t *testing.T) {
	var h msgHist
	for _, us := range []int64{-5, 3, 15, 9999, 10000, 12345, 99999, 100000, 123456} {
		h.record(us)
	}
	want := map[string]int64{"0": 2, "10": 1, "9990": 1, "10000": 1, "12300": 1, "99900": 1, "100000": 1, "123000": 1}
	got := h.snapshot()
	if len(got) != len(want) {
		t.Fatalf("snapshot %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("bucket %s = %d, want %d (all: %v)", k, got[k], v, got)
		}
	}
}

func TestMessagingReportRatio(t *testing.T) {
	s := &messagingScenario{dmRates: "2000,6000,60000"}
	rep := &Report{}
	s.report(rep, []MsgStep{
		{Side: "ref", Kind: "dm", Rate: 2000, Pass: true},
		{Side: "ref", Kind: "dm", Rate: 6000, Pass: true},
		{Side: "sdk", Kind: "dm", Rate: 6000, Pass: true},
		{Side: "sdk", Kind: "dm", Rate: 60000, Pass: true, HubCPU: 1, Sent: 100},
	}, nil)
	notes := strings.Join(rep.Sections[0].Notes, "\n")
	for _, want := range []string{"ref/dm: 6,000", "sdk/dm: 60,000", "10.0×", "add higher -dm-rates"} {
		if !strings.Contains(notes, want) {
			t.Errorf("notes lack %q:\n%s", want, notes)
		}
	}
}
