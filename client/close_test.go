package client

import (
	"context"
	"errors"
	"testing"
)

// closeFrom is what a callback that closed its client saw: Close's result,
// and a call made right after it.
type closeFrom struct{ closeErr, joinErr error }

// closeInCallback closes c from a callback and tries a call after it.
func closeInCallback(c *Client, to chan<- closeFrom) {
	err := c.Close()
	to <- closeFrom{err, c.Join(context.Background(), "late")}
}

// checkClosedFromCallback waits for the callback's Close to return (a
// deadlock before the fix), then for the client's goroutines to exit.
func checkClosedFromCallback(t *testing.T, c *Client, from <-chan closeFrom) {
	t.Helper()
	got := waitChan(t, from, "Close called from the callback to return")
	if got.closeErr != nil || !errors.Is(got.joinErr, ErrClosed) {
		t.Fatalf("in the callback: Close %v, then Join %v (want ErrClosed)", got.closeErr, got.joinErr)
	}
	waitChan(t, c.Done(), "the client's goroutines to exit")
	if !errors.Is(c.Err(), ErrClosed) {
		t.Fatalf("Err %v", c.Err())
	}
	if err := c.Close(); err != nil { // from the test's goroutine: waits, nothing left
		t.Fatal(err)
	}
}

// TestCloseFromHandler: Close called from the OnMessage handler, or from a
// SendMessageAsync done callback on the connection's reader. Regression:
// Close waited for the supervisor, which waited for the reader, which was
// running the callback blocked in Close: a deadlock.
func TestCloseFromHandler(t *testing.T) {
	h := startHub(t, 0)
	ctx := tctx(t)
	t.Run("OnMessage", func(t *testing.T) {
		from := make(chan closeFrom, 1)
		var b *Client
		b = dial(t, []string{h.URL}, WithAddress(backendURL(t)), WithOnMessage(func(Message) { closeInCallback(b, from) }))
		a := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
		if err := b.Join(ctx, "bob"); err != nil {
			t.Fatal(err)
		}
		if _, err := a.Send(ctx, []string{"bob"}, "stop"); err != nil {
			t.Fatal(err)
		}
		checkClosedFromCallback(t, b, from)
	})
	t.Run("done", func(t *testing.T) {
		from := make(chan closeFrom, 1)
		a := dial(t, []string{h.URL}, WithAddress(backendURL(t)))
		if err := a.SendMessageAsync(ctx, Outgoing{To: []string{"nobody"}, Data: 1}, func(SendResult, error) {
			closeInCallback(a, from)
		}); err != nil {
			t.Fatal(err)
		}
		checkClosedFromCallback(t, a, from)
	})
}

// TestCloseFromNameLost: Close called from the NameLost callback, which
// WithNameLost documents may call client methods. Regression: the callback
// runs on the supervisor goroutine, which Close waited for: a deadlock.
func TestCloseFromNameLost(t *testing.T) {
	h1 := startHub(t, 0)
	h2 := startHub(t, 0)
	from := make(chan closeFrom, 1)
	o, ready := readyCh()
	var a *Client
	a = dial(t, []string{h1.URL, h2.URL}, o, WithAddress(backendURL(t)),
		WithNameLost(func(string, string) { closeInCallback(a, from) }))
	waitChan(t, ready, "registered")
	b := dial(t, []string{h2.URL}, WithAddress(backendURL(t)))
	ctx := tctx(t)
	if err := a.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	if err := b.Join(ctx, "alice"); err != nil { // h2 does not know a yet
		t.Fatal(err)
	}
	h1.Kill()
	checkClosedFromCallback(t, a, from)
}

// TestGoroutineID: Close's test of its own goroutines needs distinct,
// parsed IDs (0 would make it never wait, or always).
func TestGoroutineID(t *testing.T) {
	here := goroutineID()
	there := make(chan uint64)
	go func() { there <- goroutineID() }()
	other := <-there
	if here == 0 || other == 0 || here == other || goroutineID() != here {
		t.Fatalf("goroutine IDs %d (twice: %d) and %d", here, goroutineID(), other)
	}
}
