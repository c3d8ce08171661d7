// Command go-chat is the chat backend of examples/chat written in Go with
// the Switchboard SDK (package client): same page, same page ↔ backend
// protocol, so Go and Node backends run mixed behind one Switchboard.
//
//	go run ./examples/go-chat -port 3001     (from the repository root)
//
// Environment (as backend.js): SB_URL (default http://127.0.0.1:8080; a
// comma-separated list fails over between Switchboards), SB_TOKEN, PORT
// (default 3001), HOST (default 127.0.0.1). Flags override them.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/client"
	"github.com/switchboard-lb/switchboard/internal/sio"
	"github.com/switchboard-lb/switchboard/internal/sio/eio"
)

// options configure one chat backend.
type options struct {
	Hubs       []string
	Token      string
	Addr       string        // listen address host:port
	Page       string        // index.html
	ClientJS   string        // socket.io.js for the page
	Drain      time.Duration // bound on the drain at shutdown
	HubLinger  time.Duration // write linger of the Switchboard connection
	UserLinger time.Duration // write linger of the users' connections
	InFlight   int           // messages sent to Switchboard awaiting its answer, at most
	NoBatch    bool          // send one message per event to Switchboard (client.WithBatching(false))
	Logger     *slog.Logger
	Ready      func(addr string, c *client.Client) // called once serving (tests)
	clientOpts []client.Option
}

func main() {
	env := func(k, def string) string {
		if v := os.Getenv(k); v != "" {
			return v
		}
		return def
	}
	var o options
	hubs := flag.String("sb", env("SB_URL", "http://127.0.0.1:8080"), "Switchboard URL(s), comma-separated (env SB_URL)")
	flag.StringVar(&o.Token, "token", env("SB_TOKEN", ""), "control-channel token (env SB_TOKEN; prefer the environment)")
	host := flag.String("host", env("HOST", "127.0.0.1"), "listen host (env HOST)")
	port := flag.String("port", env("PORT", "3001"), "listen port (env PORT)")
	flag.StringVar(&o.Page, "page", "examples/chat/index.html", "the chat page")
	flag.StringVar(&o.ClientJS, "socketio-js", "node_modules/socket.io/client-dist/socket.io.min.js", "socket.io client bundle served at /socket.io/socket.io.js")
	flag.DurationVar(&o.Drain, "drain", 10*time.Second, "on SIGINT/SIGTERM, how long to let users and requests finish")
	flag.DurationVar(&o.HubLinger, "hub-linger", envDur("HUB_LINGER", time.Millisecond), "how long the Switchboard connection's writer may wait to batch messages (env HUB_LINGER)")
	flag.IntVar(&o.InFlight, "max-in-flight", envInt("MAX_IN_FLIGHT", 128), "messages sent to Switchboard and not answered yet, at most; past it users' events wait (env MAX_IN_FLIGHT)")
	batch := flag.Bool("hub-batch", os.Getenv("HUB_BATCH") != "0", "batch messages to and from Switchboard (env HUB_BATCH=0: off)")
	flag.DurationVar(&o.UserLinger, "user-linger", envDur("USER_LINGER", 0), "how long a user connection's writer may wait to batch messages (env USER_LINGER)")
	flag.Parse()
	o.Hubs = strings.Split(*hubs, ",")
	o.NoBatch = !*batch
	o.Addr = net.JoinHostPort(*host, *port)
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	// One stdout line once registered, as backend.js prints (the bench
	// harness waits for it).
	o.Ready = func(addr string, c *client.Client) { fmt.Printf("registered as %s\n", c.Address()) }
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The profile ends at the signal: the drain after it is not the load
	// being profiled (and the bench harness kills a backend 3 s later).
	stopProfile := sync.OnceFunc(startProfile())
	stopAtSignal := context.AfterFunc(ctx, stopProfile)
	err := run(ctx, o)
	stopAtSignal()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "go-chat:", err)
		os.Exit(1)
	}
}

// envDur reads a duration from the environment (def when unset or bad).
func envDur(k string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(k)); err == nil {
		return d
	}
	return def
}

// envInt reads an integer from the environment (def when unset or bad).
func envInt(k string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(k)); err == nil {
		return n
	}
	return def
}

// run serves one chat backend until ctx ends, then drains and leaves.
func run(ctx context.Context, o options) error {
	page, err := os.ReadFile(o.Page)
	if err != nil {
		return fmt.Errorf("read the page (run from the repository root, or -page): %w", err)
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	log := o.Logger.With("chat", port)
	ch := newChat(ctx, port, log)

	// The users' Socket.IO server. A user too slow to take its messages is
	// cut off after a second, so it cannot stall the hub connection.
	users := sio.NewServer(sio.Config{Config: eio.Config{MaxPayloadBytes: 16 << 10, StallTimeout: time.Second,
		WriteLinger: o.UserLinger}}, log)
	ch.mount(users.Of("/"))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Backend", strconv.Itoa(port))
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /index.html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write(page)
	})
	mux.HandleFunc("GET /socket.io/socket.io.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/javascript; charset=utf-8")
		http.ServeFile(w, r, o.ClientJS)
	})
	mux.Handle("/socket.io/", users)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	// Shutdown does not see WebSockets: close the users' sessions when it
	// starts (they reconnect through Switchboard to another backend).
	srv.RegisterOnShutdown(users.Close)

	opts := append([]client.Option{
		client.WithAddress(client.ListenerURL(ln)),
		client.WithToken(o.Token),
		client.WithLogger(o.Logger),
		client.WithDrainTimeout(o.Drain),
		client.WithAckTimeout(hubTimeout),
		client.WithWriteLinger(o.HubLinger),
		client.WithMaxInFlight(cmp.Or(o.InFlight, 128)),
		client.WithBatching(!o.NoBatch),
		client.WithOnMessage(ch.onHubMessage),
		client.WithNameLost(ch.onNameLost),
	}, o.clientOpts...)
	log.Info("joining Switchboard", "hubs", o.Hubs, "addr", client.ListenerURL(ln))
	hub, err := client.Dial(ctx, o.Hubs, opts...)
	if err != nil {
		_ = ln.Close()
		users.Close()
		return err
	}
	ch.hub = hub
	log.Info("chat serving", "url", "http://"+ln.Addr().String()+"/", "backend_id", hub.ID())
	if o.Ready != nil {
		o.Ready(ln.Addr().String(), hub)
	}
	err = hub.Serve(ctx, srv, ln) // drains, shuts down and leaves when ctx ends
	users.Close()
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	return err
}
