package ws

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

const nodeWait = 15 * time.Second

// TestInteropNodeClient drives our Accept with the Node `ws` client: text,
// 70 kB binary, a fragmented message with a ping in between, ping/pong, and
// a client-initiated close with code 4001.
func TestInteropNodeClient(t *testing.T) {
	url, errs := startServer(t, Config{}, echo)
	n := testutil.StartNode(t, "internal/ws/testdata/ws_client.js", nil, url+"/")
	for _, want := range []string{"OPEN", "OK text", "OK binary", "OK fragment", "OK pong pp", "CLOSED 4001 "} {
		line := n.Expect(t, "", nodeWait)
		if line != want {
			t.Fatalf("node: %q, want %q", line, want)
		}
	}
	ce := wantCloseError(t, recv(t, errs), 4001)
	if ce.Reason != "done" {
		t.Fatalf("reason %q", ce.Reason)
	}
}

// TestInteropNodeClientTooBig: a 2 MiB message from the Node client is
// refused with 1009, which the Node side receives as the close code.
func TestInteropNodeClientTooBig(t *testing.T) {
	url, errs := startServer(t, Config{}, echo)
	n := testutil.StartNode(t, "internal/ws/testdata/ws_client.js", nil, url+"/", "big")
	n.Expect(t, "OPEN", nodeWait)
	if line := n.Expect(t, "CLOSED", nodeWait); line != "CLOSED 1009 " {
		t.Fatalf("node: %q", line)
	}
	if err := recv(t, errs); !errors.Is(err, ErrTooBig) {
		t.Fatalf("server err %v", err)
	}
}

// TestInteropNodeServer drives the Node `ws` server with our Dial.
func TestInteropNodeServer(t *testing.T) {
	n := testutil.StartNode(t, "internal/ws/testdata/ws_server.js", nil)
	port := strings.TrimPrefix(n.Expect(t, "LISTEN ", nodeWait), "LISTEN ")
	url := "ws://127.0.0.1:" + port + "/"

	c := dial(t, url, Config{})
	roundTrip := func(op int, p []byte) {
		t.Helper()
		if err := c.WriteMessage(op, p); err != nil {
			t.Fatal(err)
		}
		gotOp, got, err := c.ReadMessage()
		if err != nil || gotOp != op || !bytes.Equal(got, p) {
			t.Fatalf("echo op %d len %d: got op %d len %d err %v", op, len(p), gotOp, len(got), err)
		}
	}
	roundTrip(OpText, []byte("héllo"))
	roundTrip(OpText, nil)
	for _, size := range []int{125, 126, 65535, 65536, 1 << 20} {
		p := bytes.Repeat([]byte{0xA5, 0x01, 0xFF}, size/3+1)[:size]
		roundTrip(OpBinary, p)
	}
	read := func() string {
		t.Helper()
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		return string(p)
	}
	if err := c.WriteMessage(OpText, []byte("frag-me")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "abcdef" {
		t.Fatalf("fragmented: %q", got)
	}
	if err := c.WriteMessage(OpText, []byte("ping-me")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != "ponged srv" {
		t.Fatalf("ping: %q", got)
	}
	if err := c.WriteMessage(OpText, []byte("close-me")); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	if ce := wantCloseError(t, err, 4002); ce.Reason != "bye" {
		t.Fatalf("reason %q", ce.Reason)
	}
	if line := n.Expect(t, "SERVER", nodeWait); line != "SERVERCLOSE 4002 " {
		t.Fatalf("node: %q", line)
	}

	// Client-initiated close.
	c2 := dial(t, url, Config{})
	if err := c2.WriteClose(CloseNormal, "client bye"); err != nil {
		t.Fatal(err)
	}
	_, _, err = c2.ReadMessage()
	wantCloseError(t, err, CloseNormal)
	if line := n.Expect(t, "SERVER", nodeWait); line != "SERVERCLOSE 1000 client bye" {
		t.Fatalf("node: %q", line)
	}
}
