package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/sio"
)

// poolBackend is an HTTP backend in Switchboard's pool through Client.Serve.
type poolBackend struct {
	name   string
	served atomic.Int64
	cancel context.CancelFunc
	done   chan error
}

func startPoolBackend(t *testing.T, hubURL, name string, opts ...Option) *poolBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b := &poolBackend{name: name, done: make(chan error, 1)}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b.served.Add(1)
			_, _ = io.WriteString(w, name)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	all := append([]Option{WithAddress(ListenerURL(ln)), WithBackoff(10*time.Millisecond, 100*time.Millisecond),
		WithDrainTimeout(wait)}, opts...)
	ctx, cancel := context.WithCancel(context.Background())
	b.cancel = cancel
	c, err := Dial(tctx(t), []string{hubURL}, all...)
	if err != nil {
		cancel()
		_ = ln.Close()
		t.Fatal(err)
	}
	go func() { b.done <- c.Serve(ctx, srv, ln) }()
	t.Cleanup(func() {
		cancel()
		<-b.done
	})
	return b
}

// TestDrainUnderLoad: a backend drains (Serve's shutdown) and exits while a
// bounded load runs through Switchboard's proxy: no request fails, the
// other backends take over.
func TestDrainUnderLoad(t *testing.T) {
	h := startHub(t, 0)
	b1 := startPoolBackend(t, h.URL, "b1")
	b2 := startPoolBackend(t, h.URL, "b2")
	b3 := startPoolBackend(t, h.URL, "b3")

	const workers, total = 8, 3000
	tr := &http.Transport{MaxIdleConnsPerHost: workers}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: wait}
	var (
		next, failed atomic.Int64
		mu           sync.Mutex
		firstErrs    []string
		byBackend    = map[string]int{}
	)
	drainAt := make(chan struct{})
	var drainOnce sync.Once
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := next.Add(1)
				if i > total {
					return
				}
				if i == total/4 {
					drainOnce.Do(func() { close(drainAt) })
				}
				resp, err := hc.Get(h.URL + "/")
				var body []byte
				if err == nil {
					body, err = io.ReadAll(resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						err = fmt.Errorf("status %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
					}
				}
				mu.Lock()
				if err != nil {
					failed.Add(1)
					if len(firstErrs) < 5 {
						firstErrs = append(firstErrs, err.Error())
					}
				} else {
					byBackend[string(body)]++
				}
				mu.Unlock()
			}
		})
	}
	select {
	case <-drainAt:
	case <-time.After(wait):
		t.Fatal("load did not start")
	}
	served := b1.served.Load()
	b1.cancel() // Serve: drain, shutdown, close
	select {
	case err := <-b1.done:
		b1.done <- err
		if err != nil {
			t.Fatalf("b1 Serve: %v", err)
		}
	case <-time.After(2 * wait):
		t.Fatal("b1 did not drain and exit")
	}
	wg.Wait()
	t.Logf("served: %v; b1 before drain %d, total %d; failed %d", byBackend, served, b1.served.Load(), failed.Load())
	if failed.Load() != 0 {
		t.Fatalf("%d requests failed, e.g. %q", failed.Load(), firstErrs)
	}
	if served == 0 || byBackend["b2"] == 0 || byBackend["b3"] == 0 {
		t.Fatalf("load not spread: %v", byBackend)
	}
	_, _ = b2, b3
}

// TestDrainStatus: Drain on an idle backend returns at once with zero
// counts, and a reconnect keeps it draining (re-sent), so the hub does not
// route it new requests.
func TestDrainStatus(t *testing.T) {
	h := startHub(t, 0)
	o, ready := readyCh()
	c := dial(t, []string{h.URL}, o, WithAddress(backendURL(t)))
	waitChan(t, ready, "registered")
	st, err := c.Drain(tctx(t))
	if err != nil || !st.Idle() {
		t.Fatalf("drain: %+v %v", st, err)
	}
	h.Kill()
	h.Start()
	waitChan(t, ready, "re-registered")
	h.WaitLog("backend draining", c.Address())
	ctx, cancel := context.WithCancel(tctx(t))
	cancel()
	if _, err := c.Drain(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("drain with a cancelled ctx: %v", err)
	}
}

// TestDrainNotAnnounced: other backends hear of joins and leaves, not of a
// backend starting to drain (it is still in the pool).
func TestDrainNotAnnounced(t *testing.T) {
	hub := inprocHubTB(t)
	events := make(chan string, 16)
	watcher := dial(t, []string{hub}, WithAddress(backendURL(t)),
		WithOnServerJoined(func(s Server) { events <- "joined " + s.Address }),
		WithOnServerLeft(func(s Server) { events <- "left " + s.Address }))
	_ = watcher
	drainer := dial(t, []string{hub}, WithAddress(backendURL(t)))
	if got := waitChan(t, events, "the drainer's join"); got != "joined "+drainer.Address() {
		t.Fatalf("first event %q", got)
	}
	if _, err := drainer.Drain(tctx(t)); err != nil {
		t.Fatal(err)
	}
	third := dial(t, []string{hub}, WithAddress(backendURL(t)))
	if got := waitChan(t, events, "the third's join"); got != "joined "+third.Address() {
		t.Fatalf("after a drain the next event is %q, want the third backend's join", got)
	}
}

// TestDrainRefused: a hub that does not know `drain` refuses it
// (UNKNOWN_EVENT, or BAD_REQUEST). Regression: Drain retried until its ctx
// ended, and a reconnect of a draining client re-sent drain in the resync,
// failed it as retryable and reconnected again, in a loop. Now Drain fails
// at once with the refusal, and the resync logs it and registers.
func TestDrainRefused(t *testing.T) {
	tests := []struct {
		code string
		want error
	}{
		{CodeUnknownEvent, ErrUnknownEvent},
		{CodeBadRequest, ErrBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			h := startFakeHub(t, func(_ *sio.Socket, _ sio.Message, ack sio.Ack) { _ = ack(sio.Message{}) })
			var drains atomic.Int64
			h.srv.Of(DefaultNamespace).On("drain", func(_ *sio.Socket, _ sio.Message, ack sio.Ack) {
				drains.Add(1)
				_ = ack(sio.Args(raw(`{"ok":false,"code":"` + tt.code + `","message":"unknown event drain"}`)))
			})
			logs := newLineLog()
			o, ready := readyCh()
			c := dial(t, []string{h.URL}, o, WithAddress(backendURL(t)), WithLogger(logLines(logs)))
			waitChan(t, ready, "registered")
			if _, err := c.Drain(tctx(t)); !errors.Is(err, tt.want) {
				t.Fatalf("Drain: %v, want %v", err, tt.want)
			}
			if n := drains.Load(); n != 1 {
				t.Fatalf("drain sent %d times", n)
			}
			// The transport drops: the client reconnects, re-sends drain
			// in the resync, and registers despite the refusal.
			h.sock.Load().CloseTransport("test")
			waitChan(t, ready, "re-registered")
			waitLog(t, logs, "ERROR hub refused drain after reconnect", tt.code)
			if n := drains.Load(); n != 2 {
				t.Fatalf("drain sent %d times; want 2 (Drain, then the resync)", n)
			}
			if !c.Connected() {
				t.Fatal("not connected")
			}
		})
	}
}
