package client

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
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

// TestOptionsRefused: option values that would break the client are
// refused by Dial and Serve with an error naming them, before any
// connection. Regression: WithDialTimeout(0) made every attempt fail at
// once (Dial never succeeded), WithDrainTimeout(0) left Serve no time,
// WithAckTimeout(-1) failed every message, WithPath("") dialed the
// default Engine.IO path "/socket.io/".
func TestOptionsRefused(t *testing.T) {
	tests := []struct {
		name string
		opt  Option
		want string
	}{
		{"dial timeout 0", WithDialTimeout(0), "dial timeout 0s: must be positive"},
		{"dial timeout negative", WithDialTimeout(-time.Second), "dial timeout -1s: must be positive"},
		{"drain timeout 0", WithDrainTimeout(0), "drain timeout 0s: must be positive"},
		{"drain timeout negative", WithDrainTimeout(-time.Second), "drain timeout -1s: must be positive"},
		{"shutdown timeout 0", WithShutdownTimeout(0), "shutdown timeout 0s: must be positive"},
		{"ack timeout 0", WithAckTimeout(0), "ack timeout 0s: must be positive"},
		{"ack timeout negative", WithAckTimeout(-time.Millisecond), "ack timeout -1ms: must be positive"},
		{"empty path", WithPath(""), `path "": must start with /`},
		{"relative path", WithPath("list"), `path "list": must start with /`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// A cancelled ctx: an option error must come before any wait.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_, err := Dial(ctx, []string{"http://127.0.0.1:1"}, WithAddress("http://127.0.0.1:2"), tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Dial: %v, want an error with %q", err, tt.want)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			err = Serve(ctx, &http.Server{ReadHeaderTimeout: time.Second}, ln, []string{"http://127.0.0.1:1"}, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Serve: %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// withRand injects the reconnect jitter's randomness (uniform in [0,1)).
func withRand(f func() float64) Option { return func(c *config) error { c.rand = f; return nil } }

// TestReconnectBackoff: against a hub that is down, the gaps between
// connection attempts follow WithBackoff (from min, doubling per failed
// attempt, capped at max), scaled by the jitter factor 0.5+r for the
// injected r and capped at max again. The fake clock of testing/synctest
// makes the gaps exact: the attempts themselves (refused connections)
// take no fake time.
func TestReconnectBackoff(t *testing.T) {
	down := "http://127.0.0.1:" + itoa(freePort(t))
	addr := backendURL(t)
	const s = time.Second
	tests := []struct {
		name string
		r    float64
		want []time.Duration
	}{
		{"no jitter", 0.5, []time.Duration{s, 2 * s, 4 * s, 4 * s}},
		{"jitter down", 0, []time.Duration{s / 2, s, 2 * s, 2 * s}},
		{"jitter up", 0.75, []time.Duration{5 * s / 4, 5 * s / 2, 4 * s, 4 * s}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var (
					mu sync.Mutex
					at []time.Time // of each failed attempt
				)
				log := slog.New(recordFunc(func(r slog.Record) {
					if r.Message == "hub unreachable" {
						mu.Lock()
						at = append(at, r.Time)
						mu.Unlock()
					}
				}))
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_, err := Dial(ctx, []string{down}, WithAddress(addr), WithBackoff(s, 4*s), WithLogger(log),
					withRand(func() float64 { return tt.r }))
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("dial: %v", err)
				}
				mu.Lock()
				defer mu.Unlock()
				if len(at) <= len(tt.want) {
					t.Fatalf("%d attempts in a minute", len(at))
				}
				for i, want := range tt.want {
					if got := at[i+1].Sub(at[i]); got != want {
						t.Errorf("gap after attempt %d: %v, want %v", i+1, got, want)
					}
				}
			})
		})
	}
}

// recordFunc is a slog.Handler calling itself with each record.
type recordFunc func(slog.Record)

func (f recordFunc) Enabled(context.Context, slog.Level) bool { return true }

func (f recordFunc) Handle(_ context.Context, r slog.Record) error { f(r); return nil }

func (f recordFunc) WithAttrs([]slog.Attr) slog.Handler { return f }

func (f recordFunc) WithGroup(string) slog.Handler { return f }
