package app

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"
	"time"
)

// TestMaxConns: at --listen-max-conns the next client waits in the backlog
// until a connection closes, then is served; /stats shows the listener.
func TestMaxConns(t *testing.T) {
	t.Parallel()
	be := namedBackend(t, "ok")
	cfg := testConfig()
	cfg.Proxy.Backends = []string{be.URL}
	cfg.Listen.MaxConns = 1
	r := start(t, cfg, nil)
	addr := r.addrs.Main.String()

	roundTrip := func(c net.Conn, br *bufio.Reader) (*http.Response, error) {
		if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			return nil, err
		}
		res, err := http.ReadResponse(br, nil)
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			_ = res.Body.Close()
		}
		return res, err
	}
	a, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if res, err := roundTrip(a, bufio.NewReader(a)); err != nil || res.StatusCode != 200 {
		t.Fatalf("first client: %v %v", res, err)
	}

	b, err := net.Dial("tcp", addr) // completes in the kernel's backlog
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan error, 1)
	go func() {
		res, err := roundTrip(b, bufio.NewReader(b))
		if err == nil && res.StatusCode != 200 {
			err = io.ErrUnexpectedEOF
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("second client served while the first holds the only slot: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	_ = a.Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(wait):
		t.Fatal("second client not served after the first left")
	}

	_, body := get(t, "http://"+r.addrs.Admin.String()+"/stats")
	var stats struct {
		Listener struct {
			Open  int64  `json:"open"`
			Max   int    `json:"max"`
			Waits uint64 `json:"waits"`
		} `json:"listener"`
	}
	if err := json.Unmarshal([]byte(body), &stats); err != nil || stats.Listener.Max != 1 || stats.Listener.Waits == 0 || stats.Listener.Open != 1 {
		t.Fatalf("stats %s: %v", body, err)
	}
	_ = b.Close()
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestMaxConnsDefault(t *testing.T) {
	t.Parallel()
	if n := maxConns(7); n != 7 {
		t.Fatalf("explicit: %d", n)
	}
	if n := maxConns(0); n < 64 {
		t.Fatalf("derived: %d", n)
	}
}
