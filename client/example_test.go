package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/switchboard-lb/switchboard/client"
)

// The examples run against a real Switchboard started in the test process
// (startSwitchboard, in example_hub_test.go); in production hubURL is where
// Switchboard listens, e.g. "http://127.0.0.1:8080".

func ExampleDial() {
	hubURL, stop := startSwitchboard()
	defer stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, []string{hubURL},
		client.WithAddress("http://127.0.0.1:3001"), // where Switchboard reaches this backend
		client.WithWeight(2),
		client.WithMeta(map[string]string{"region": "eu"}),
	)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	fmt.Println("registered as", c.Address())
	// Output: registered as http://127.0.0.1:3001
}

func ExampleClient_Join() {
	hubURL, stop := startSwitchboard()
	defer stop()
	ctx := context.Background()
	a, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3001"))
	defer a.Close()
	b, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3002"))
	defer b.Close()

	if err := a.Join(ctx, "alice"); err != nil {
		log.Fatal(err)
	}
	// A name is unique cluster-wide.
	err := b.Join(ctx, "alice")
	var taken *client.NameTakenError
	if errors.As(err, &taken) {
		fmt.Println("taken, held by", taken.Holder)
	}
	exists, holder, _ := b.Exists(ctx, "alice")
	fmt.Println(exists, holder)
	// Output:
	// taken, held by http://127.0.0.1:3001
	// true http://127.0.0.1:3001
}

func ExampleClient_Send() {
	hubURL, stop := startSwitchboard()
	defer stop()
	ctx := context.Background()
	got := make(chan client.Message, 1)
	bob, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3002"),
		client.WithOnMessage(func(m client.Message) { got <- m }))
	defer bob.Close()
	_ = bob.Join(ctx, "bob")

	alice, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3001"))
	defer alice.Close()
	res, err := alice.SendMessage(ctx, client.Outgoing{
		To: []string{"bob", "nobody"}, From: "alice", Data: map[string]string{"text": "hi bob"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("delivered:", res.Delivered, "unknown:", res.Unknown)
	m := <-got
	fmt.Printf("%s → %v: %s\n", m.From, m.To, m.Data)
	// Output:
	// delivered: [bob] unknown: [nobody]
	// alice → [bob]: {"text":"hi bob"}
}

func ExampleClient_OnMessage() {
	hubURL, stop := startSwitchboard()
	defer stop()
	ctx := context.Background()
	done := make(chan struct{})
	lobby, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3002"))
	defer lobby.Close()
	// Handlers run one at a time on the connection's reader: keep them
	// short, and do not wait for the hub from them.
	lobby.OnMessage(func(m client.Message) {
		var body struct{ Text string }
		if err := m.Decode(&body); err == nil {
			fmt.Printf("%s message in %q: %s\n", m.Kind(), m.Room, body.Text)
		}
		close(done)
	})
	_ = lobby.JoinRoom(ctx, "lobby")

	other, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3001"))
	defer other.Close()
	_, _ = other.Publish(ctx, "lobby", map[string]string{"Text": "hello, room"})
	<-done
	// Output: room message in "lobby": hello, room
}

func ExampleClient_Drain() {
	hubURL, stop := startSwitchboard()
	defer stop()
	ctx := context.Background()
	c, _ := client.Dial(ctx, []string{hubURL}, client.WithAddress("http://127.0.0.1:3001"))
	defer c.Close()

	// Before stopping: no new requests, sessions or users; wait (bounded)
	// until what is in flight through Switchboard has finished.
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := c.Drain(dctx)
	fmt.Println(st.Idle(), err)
	// Output: true <nil>
}

func ExampleServe() {
	hubURL := "http://127.0.0.1:8080"
	ln, err := net.Listen("tcp", "127.0.0.1:3001")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.NotFoundHandler(), ReadHeaderTimeout: 10 * time.Second}
	// Serves until ctx ends (SIGTERM), then drains, shuts down and leaves.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := client.Serve(ctx, srv, ln, []string{hubURL}, client.WithWeight(2)); err != nil {
		log.Fatal(err)
	}
}

func ExampleClient_Serve() {
	hubURL, stop := startSwitchboard()
	defer stop()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c, err := client.Dial(ctx, []string{hubURL}, client.WithAddress(client.ListenerURL(ln)))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "hello") }),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- c.Serve(ctx, srv, ln) }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(hubURL + "/") // through Switchboard's proxy
	if err != nil {
		log.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(string(body))
	cancel() // drains, shuts the server down, leaves the pool
	fmt.Println(<-errc)
	// Output:
	// hello
	// <nil>
}
