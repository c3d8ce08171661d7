package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// goBackend is a Go backend registered over our own Socket.IO client: it
// answers "go :PORT" on every path, echoes WebSocket messages on /ws and
// streams Server-Sent Events on /sse (one event per value sent on SSE).
type goBackend struct {
	Port int
	Addr string
	SSE  chan string
	Msgs chan json.RawMessage // `message` events from the hub
	srv  *http.Server
	cli  *sio.Client
	sock *sio.ClientSocket
}

func startGoBackend(tb testing.TB, hub *sb, weight int) *goBackend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	g := &goBackend{Port: ln.Addr().(*net.TCPAddr).Port, SSE: make(chan string), Msgs: make(chan json.RawMessage, 64)}
	g.Addr = "http://127.0.0.1:" + strconv.Itoa(g.Port)
	mux := http.NewServeMux()
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := ws.Accept(w, r, ws.Config{})
		if err != nil {
			return
		}
		defer c.Close()
		for {
			op, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if c.WriteMessage(op, p) != nil {
				return
			}
		}
	})
	mux.HandleFunc("/sse", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		for {
			select {
			case v, ok := <-g.SSE:
				if !ok {
					return
				}
				fmt.Fprintf(w, "data: %s\n\n", v)
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "go :%d", g.Port)
	})
	g.srv = &http.Server{Handler: mux}
	go func() { _ = g.srv.Serve(ln) }()

	g.cli = sio.NewClient(hub.URL(), sio.ClientConfig{DialConfig: eio.DialConfig{Path: "/list"}, Reconnect: true,
		BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond})
	s := g.cli.Socket("/list", nil)
	g.sock = s
	s.On("message", func(m sio.Message, ack sio.Ack) {
		if len(m.Args) > 0 {
			g.Msgs <- m.Args[0]
		}
	})
	opts, _ := json.Marshal(map[string]int{"weight": weight})
	addr, _ := json.Marshal(g.Addr)
	s.OnConnect(func() {
		_ = s.Emit("address", sio.Args(addr, opts))
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.cli.Connect(ctx); err != nil {
		tb.Fatalf("go backend connect: %v", err)
	}
	tb.Cleanup(g.close)
	return g
}

func (g *goBackend) close() {
	_ = g.cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = g.srv.Shutdown(ctx)
	_ = g.srv.Close()
}

// call emits a channel event and returns the ack's first argument.
func (g *goBackend) call(tb testing.TB, event string, args ...json.RawMessage) json.RawMessage {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := g.sock.EmitWithAck(ctx, event, sio.Message{Args: args})
	if err != nil || len(m.Args) == 0 {
		tb.Fatalf("%s: %v", event, err)
	}
	return m.Args[0]
}
