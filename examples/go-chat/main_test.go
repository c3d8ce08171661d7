package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/client"
	"github.com/switchboard-lb/switchboard/internal/app/apptest"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }

const wait = 30 * time.Second

// startHub runs Switchboard in process on a free loopback port.
func startHub(t *testing.T) string { return apptest.StartTB(t) }

// startGoChat runs one Go chat backend in process; it returns its URL.
func startGoChat(t *testing.T, hub string) string {
	t.Helper()
	root := testutil.RepoRoot(t)
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, options{
			Hubs:     []string{hub},
			Addr:     "127.0.0.1:0",
			Page:     filepath.Join(root, "examples/chat/index.html"),
			ClientJS: filepath.Join(root, "node_modules/socket.io/client-dist/socket.io.min.js"),
			Drain:    time.Second,
			// As main's default: the hub connection coalesces its writes.
			HubLinger: time.Millisecond,
			Logger:    slog.New(slog.NewTextHandler(io.Discard, nil)),
			Ready:     func(a string, _ *client.Client) { addr <- a },
		})
	}()
	select {
	case a := <-addr:
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("go-chat: %v", err)
			}
		})
		return "http://" + a
	case err := <-done:
		cancel()
		t.Fatalf("go-chat: %v", err)
	}
	return ""
}

// TestMixedSmoke runs the chat example's smoke test (five users on three
// backends, every ordered pair messaging, one public message, each received
// exactly once) against two Go backends and one Node backend behind one
// Switchboard.
func TestMixedSmoke(t *testing.T) {
	hub := startHub(t)
	g1 := startGoChat(t, hub)
	g2 := startGoChat(t, hub)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	node := testutil.StartNode(t, "examples/chat/backend.js", []string{"SB_URL=" + hub, "PORT=" + strconv.Itoa(port)})
	waitLine(t, node, "registered as")
	nodeURL := "http://127.0.0.1:" + strconv.Itoa(port)

	// The page and the socket.io bundle from a Go backend, directly and
	// through Switchboard's proxy.
	for _, u := range []string{g1 + "/", g1 + "/socket.io/socket.io.js", hub + "/"} {
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || len(body) == 0 {
			t.Fatalf("GET %s: %d", u, resp.StatusCode)
		}
	}

	smoke := testutil.StartNode(t, "examples/chat/testdata/smoke.js", nil, g1, nodeURL, g2)
	line := waitLine(t, smoke, "OK", "FAIL")
	if !strings.HasPrefix(line, "OK") {
		t.Fatalf("smoke: %s\nstderr: %s", line, smoke.Stderr())
	}
	t.Log(line)

	// The page in a real browser: a user on a Go backend and one on the
	// Node backend exchange messages.
	if _, err := os.Stat("/usr/bin/chromium"); err != nil && os.Getenv("CHROMIUM") == "" {
		t.Log("no chromium: browser check skipped")
		return
	}
	bc := testutil.StartNode(t, "examples/chat/testdata/browser-check.js",
		[]string{"SCREENSHOT=" + filepath.Join(t.TempDir(), "chat.png")}, g1+"/", nodeURL+"/")
	if line := waitLine(t, bc, "OK", "FAIL"); !strings.HasPrefix(line, "OK") {
		t.Fatalf("browser check: %s\nstderr: %s", line, bc.Stderr())
	}
}

// waitLine returns the first stdout line containing one of subs.
func waitLine(t *testing.T, n *testutil.Node, subs ...string) string {
	t.Helper()
	timer := time.NewTimer(wait)
	defer timer.Stop()
	var seen []string
	for {
		select {
		case l, ok := <-n.Lines:
			if !ok {
				t.Fatalf("node exited; output:\n%s\nstderr:\n%s", strings.Join(seen, "\n"), n.Stderr())
			}
			seen = append(seen, l)
			for _, s := range subs {
				if strings.Contains(l, s) {
					return l
				}
			}
		case <-timer.C:
			t.Fatalf("no line with %q; output:\n%s", subs, strings.Join(seen, "\n"))
		}
	}
}
