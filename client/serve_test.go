package client

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// TestServeHubLater: Serve starts while Switchboard is down, registers
// (with its options) once it comes up, serves through the proxy, and on
// cancel drains, shuts down and leaves the pool.
func TestServeHubLater(t *testing.T) {
	port := freePort(t)
	hubURL := "http://127.0.0.1:" + itoa(port)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ListenerURL(ln)
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "served") }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- Serve(ctx, srv, ln, []string{hubURL}, WithBackoff(10*time.Millisecond, 50*time.Millisecond),
			WithWeight(5), WithPublicURL("https://chat.example.com:8443"), WithDrainTimeout(wait))
	}()

	h := startHub(t, port)
	h.WaitLog("backend joined", addr, "weight=5")
	resp, err := http.Get("http://" + h.Admin + "/backends")
	if err != nil {
		t.Fatal(err)
	}
	var list []struct {
		Address string `json:"address"`
		URL     string `json:"url"`
		Weight  int    `json:"weight"`
	}
	err = json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if err != nil || len(list) != 1 || list[0].Address != addr || list[0].Weight != 5 || list[0].URL != "https://chat.example.com:8443" {
		t.Fatalf("/backends: %+v %v", list, err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err = (&http.Client{Transport: tr}).Get(h.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "served" {
		t.Fatalf("through the proxy: %d %q", resp.StatusCode, body)
	}
	cancel()
	if err := waitChan(t, errc, "Serve returned"); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	h.WaitLog("backend draining", addr)
	h.WaitLog("backend left", addr)
}

// TestServeShutdownAfterDrainTimeout: a request is still running when
// Serve's drain runs out of time; http.Server.Shutdown then has a bound of
// its own (WithShutdownTimeout) and lets it finish. Regression: the drain
// and Shutdown shared one deadline, so a drain that used it up left
// Shutdown none: Serve failed and the request was cut (502 through
// Switchboard).
func TestServeShutdownAfterDrainTimeout(t *testing.T) {
	h := startHub(t, 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started, release := make(chan struct{}, 1), make(chan struct{})
	var direct atomic.Pointer[string] // our own idle connection's address
	idleClosed := make(chan struct{})
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path == "/ping" {
				return
			}
			started <- struct{}{}
			<-release
			_, _ = io.WriteString(w, "done")
		}),
		ConnState: func(c net.Conn, s http.ConnState) {
			if a := direct.Load(); s == http.StateClosed && a != nil && c.RemoteAddr().String() == *a {
				close(idleClosed)
			}
		},
		ReadHeaderTimeout: 5 * time.Second,
	}
	logs := newLineLog()
	c := dial(t, []string{h.URL}, WithAddress(ListenerURL(ln)), WithLogger(logLines(logs)),
		WithDrainTimeout(200*time.Millisecond), WithShutdownTimeout(wait))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- c.Serve(ctx, srv, ln) }()

	// An idle keep-alive connection straight to the server: Shutdown
	// closes it first thing, which tells the test Shutdown is running.
	idle, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	a := idle.LocalAddr().String()
	direct.Store(&a)
	if _, err := io.WriteString(idle, "GET /ping HTTP/1.1\r\nHost: backend\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(idle), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	res := make(chan string, 1)
	go func() {
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(h.URL + "/slow")
		if err != nil {
			res <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		res <- resp.Status + " " + string(body)
	}()
	waitChan(t, started, "the request at the backend")
	cancel()
	waitLog(t, logs, "WARN drain incomplete")
	waitChan(t, idleClosed, "Shutdown to close the idle connection")
	close(release) // Shutdown has seen the request still running
	if got := waitChan(t, res, "the response"); got != "200 OK done" {
		t.Errorf("the request in flight got %q", got)
	}
	if err := waitChan(t, served, "Serve's return"); err != nil {
		t.Errorf("Serve: %v", err)
	}
}
