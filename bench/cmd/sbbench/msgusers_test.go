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
	"testing"
	"time"
)

// chatServer serves the user protocol (login, dm, pub → msg) in this
// process: a floor server (msgfloor.go).
func chatServer(t *testing.T) (port string) {
	t.Helper()
	srv, h := newFloor(slog.New(slog.NewTextHandler(io.Discard, nil)))
	hs := httptest.NewServer(h)
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

// TestMsgUsersLocal runs users on two floor servers, which deliver only
// to their own users: with Local every dm arrives; without it about half
// are refused (NOT_HERE), which shows the servers do not relay.
func TestMsgUsersLocal(t *testing.T) {
	ports := []string{chatServer(t), chatServer(t)}
	for _, local := range []bool{true, false} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		var out bytes.Buffer
		res, err := runMsgUsers(ctx, msgUsersConfig{Ports: ports, Host: "127.0.0.1", Users: 6, Count: 6,
			Kind: "dm", Rate: 400, Duration: 100 * time.Millisecond, StartOnStdin: true, Settle: 50 * time.Millisecond,
			SettleMax: 10 * time.Second, Prefix: "u", Local: local}, strings.NewReader("go\n"), &out)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if local && (res.Sent != 40 || res.Received != 40 || res.SendErrors != 0) {
			t.Errorf("local: %+v, want 40 sent and received, no send errors", res)
		}
		if !local && (res.SendErrors == 0 || res.Received+res.SendErrors != res.Sent) {
			t.Errorf("not local: %+v, want some dms refused by the floor servers and the rest received", res)
		}
	}
}

func TestPickRecipient(t *testing.T) {
	for _, tc := range []struct {
		users, ports int
		local        bool
	}{{300, 3, true}, {300, 3, false}, {7, 3, true}, {2, 1, true}, {5, 2, true}} {
		for i := range tc.users {
			// Every k the random source can give maps to a distinct
			// recipient, never the sender, on the sender's backend if local.
			n := tc.users - 1
			if tc.local && tc.ports > 1 {
				n = (tc.users-i%tc.ports+tc.ports-1)/tc.ports - 1
			}
			seen := map[int]bool{}
			for k := range n {
				j := pickRecipient(i, tc.users, tc.ports, tc.local, func(m int) int {
					if m != n {
						t.Fatalf("%+v user %d: drew from %d, want %d", tc, i, m, n)
					}
					return k
				})
				if j == i || j < 0 || j >= tc.users || seen[j] || (tc.local && j%tc.ports != i%tc.ports) {
					t.Fatalf("%+v user %d draw %d: recipient %d (seen %v)", tc, i, k, j, seen)
				}
				seen[j] = true
			}
		}
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
