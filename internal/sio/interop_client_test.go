package sio

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

const serverJS = "internal/sio/testdata/server.js"

// startNodeServer runs the reference socket.io@4.8.4 server on port (0:
// any) and returns it with its base URL.
func startNodeServer(t *testing.T, port string) (*testutil.Node, string, string) {
	t.Helper()
	n := testutil.StartNode(t, serverJS, nil, port)
	l := n.Expect(t, "listening ", waitFor)
	p := strings.TrimPrefix(l, "listening ")
	return n, "http://127.0.0.1:" + p, p
}

// TestInteropGoClientNodeServer: our client against the reference server.
func TestInteropGoClientNodeServer(t *testing.T) {
	t.Parallel()
	forTransports(t, func(t *testing.T, transport string) {
		n, url, _ := startNodeServer(t, "0")
		c := newTestClient(t, url, transport, ClientConfig{Reconnect: true, BackoffMin: 20 * time.Millisecond})
		root := c.Socket("/", func() json.RawMessage { return raw(`{"token":"good"}`) })
		admin := c.Socket("/admin", nil)
		events := make(chan string, 16)
		for _, ev := range []string{"echo", "asked", "binasked"} {
			root.On(ev, func(m Message, ack Ack) {
				s := ev + " " + argsString(m)
				for _, a := range m.Attachments {
					s += " buf:" + string(a)
				}
				events <- s
			})
		}
		root.On("ask", func(m Message, ack Ack) { check(t, ack(Args(raw(`"answer"`), m.Args[0]))) })
		root.On("bin", func(m Message, ack Ack) {
			check(t, ack(Binary(append(bytes.Clone(m.Attachments[0]), '!'))))
		})
		disc := make(chan string, 4)
		root.OnDisconnect(func(reason string, will bool) { disc <- fmt.Sprint(reason, " ", will) })

		ctx, cancel := context.WithTimeout(t.Context(), waitFor)
		defer cancel()
		check(t, c.Connect(ctx))
		seen := map[string]string{}
		for range 2 {
			l := n.Expect(t, "connection ", waitFor)
			seen[strings.Fields(l)[1]] = l
		}
		if l := seen["/"]; !strings.HasSuffix(l, ` {"token":"good"}`) || !strings.Contains(l, root.ID()) {
			t.Fatalf("node saw %q (our id %q)", l, root.ID())
		}
		if seen["/admin"] == "" {
			t.Fatalf("node saw %q", seen)
		}

		// Acks to the server on both namespaces.
		for _, s := range []*ClientSocket{root, admin} {
			m, err := s.EmitWithAck(ctx, "echo", Args(raw(`{"n":1}`), raw(`"two"`)))
			check(t, err)
			if got := argsString(m); got != `[{"n":1},"two"]` {
				t.Fatalf("%s ack %s", s.Namespace(), got)
			}
		}
		check(t, root.Emit("echo", Args(raw(`[1,2,3]`))))
		if got := recv(t, events, "echo"); got != `echo [[1,2,3]]` {
			t.Fatalf("echo %q", got)
		}
		// Binary to the server and back in its ack.
		blob := bytes.Repeat([]byte{7, 0, 255}, 3000)
		m, err := root.EmitWithAck(ctx, "echo", Binary([]byte("a"), blob))
		check(t, err)
		if len(m.Attachments) != 2 || string(m.Attachments[0]) != "a" || !bytes.Equal(m.Attachments[1], blob) {
			t.Fatalf("binary ack %s (%d attachments)", argsString(m), len(m.Attachments))
		}
		// Server → client acks, JSON and binary.
		check(t, root.Emit("please-ask", Args(raw(`5`))))
		if got := recv(t, events, "asked"); got != `asked ["answer"]` {
			t.Fatalf("asked %q", got)
		}
		check(t, root.Emit("please-bin", Message{}))
		if got := recv(t, events, "binasked"); got != `binasked ["hello!"]` {
			t.Fatalf("binasked %q", got)
		}

		// Server-side disconnect: no reconnection.
		check(t, root.Emit("please-disconnect", Message{}))
		if got := recv(t, disc, "disconnect"); got != ReasonIOServerDisconnect+" false" {
			t.Fatalf("disconnect %q", got)
		}
		n.Expect(t, "disconnect / server namespace disconnect", waitFor)
		if !admin.Connected() {
			t.Fatal("/admin should stay connected")
		}
		check(t, admin.Emit("please-disconnect", Message{}))
		n.Expect(t, "disconnect /admin server namespace disconnect", waitFor)
		closed(t, c.runDone, "client stops: every namespace was disconnected by the server")
	})
}

func TestInteropGoClientNodeAuth(t *testing.T) {
	t.Parallel()
	_, url, _ := startNodeServer(t, "0")
	c := newTestClient(t, url, eio.TransportWebSocket, ClientConfig{Reconnect: true})
	c.Socket("/admin", func() json.RawMessage { return raw(`{"token":"bad"}`) })
	var ce *ConnectError
	if err := c.Connect(t.Context()); !errors.As(err, &ce) || ce.Message != "not authorized" || string(ce.Data) != `{"code":4}` {
		t.Fatalf("connect: %v", err)
	}
	c2 := newTestClient(t, url, eio.TransportPolling, ClientConfig{})
	c2.Socket("/nope", nil)
	if err := c2.Connect(t.Context()); !errors.As(err, &ce) || ce.Message != "Invalid namespace" {
		t.Fatalf("unknown namespace: %v", err)
	}
}

// TestInteropGoClientNodeRestart: our client reconnects by itself when the
// reference server comes back on the same port.
func TestInteropGoClientNodeRestart(t *testing.T) {
	t.Parallel()
	n, url, port := startNodeServer(t, "0")
	c := newTestClient(t, url, eio.TransportWebSocket, ClientConfig{Reconnect: true, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	s := c.Socket("/", nil)
	connects := make(chan struct{}, 4)
	s.OnConnect(func() { connects <- struct{}{} })
	disc := make(chan string, 4)
	s.OnDisconnect(func(reason string, will bool) { disc <- fmt.Sprint(reason, " ", will) })
	check(t, c.Connect(t.Context()))
	recv(t, connects, "connect")
	check(t, n.Cmd.Process.Kill())
	if got := recv(t, disc, "disconnect"); got != ReasonTransportClose+" true" && got != ReasonTransportError+" true" {
		t.Fatalf("disconnect %q", got)
	}
	n2, _, _ := startNodeServer(t, port)
	recv(t, connects, "reconnect")
	n2.Expect(t, "connection / ", waitFor)
	m, err := s.EmitWithAck(t.Context(), "echo", Args(raw(`"again"`)))
	check(t, err)
	if argsString(m) != `["again"]` {
		t.Fatalf("ack %s", argsString(m))
	}
}
