package client

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
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
