package client

import (
	"context"
	"net"
	"testing"
	"time"
)

// TestCustomPathAndNamespace: a hub whose channel sits on another engine
// path and namespace is reached with WithPath and the namespace in the
// hub URL.
func TestCustomPathAndNamespace(t *testing.T) {
	h := startHub(t, 0, "--control-path", "/hub", "--control-namespace", "/backends")
	c := dial(t, []string{h.URL + "/backends"}, WithPath("/hub"), WithAddress(backendURL(t)))
	if err := c.Join(tctx(t), "alice"); err != nil {
		t.Fatalf("join through /hub, namespace /backends: %v", err)
	}
	// The default path does not reach it.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if _, err := Dial(ctx, []string{h.URL + "/backends"}, WithAddress(backendURL(t)), WithDialTimeout(500*time.Millisecond)); err == nil {
		t.Fatal("dial on the default path /list reached a hub serving /hub")
	}
}

// TestDialTimeoutMovesOn: a hub that accepts TCP but never answers holds
// an attempt for WithDialTimeout only; the client then tries the next hub.
// (With the default 10 s the attempt would outlast ctx.)
func TestDialTimeoutMovesOn(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn // accepted and never answered; owned by the goroutine until done
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range held {
			_ = c.Close()
		}
	})
	h := startHub(t, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Second)
	defer cancel()
	c, err := Dial(ctx, []string{"http://" + ln.Addr().String(), h.URL}, WithAddress(backendURL(t)),
		WithDialTimeout(200*time.Millisecond), WithBackoff(10*time.Millisecond, 50*time.Millisecond))
	if err != nil {
		t.Fatalf("dial past a silent hub: %v", err)
	}
	defer c.Close()
	if c.Hub() != h.URL {
		t.Fatalf("connected to %q, want %q", c.Hub(), h.URL)
	}
}
