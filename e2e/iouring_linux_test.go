package e2e

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/rawio"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// TestTunnelIOURingOption: by default the binary's tunnel reactors write
// through io_uring where this kernel allows it, and its HTTP reactor
// serves keep-alive requests; --proxy-no-io-uring turns both off. Either
// way, messages of every size echo intact and requests are answered.
func TestTunnelIOURingOption(t *testing.T) {
	available := true
	if r, err := rawio.NewSendRing(1); err != nil {
		t.Logf("io_uring unavailable here (%v): the default must fall back to write(2)", err)
		available = false
	} else {
		r.Close()
	}
	for _, tc := range []struct {
		name  string
		flags []string
		ring  bool
	}{
		{"default", nil, available},
		{"off", []string{"--proxy-no-io-uring"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hub, c := wsThroughSB(t, tc.flags...)
			for i, size := range []int{1, 100, 5000, 70000, 300000} {
				msg := strings.Repeat(string(rune('a'+i)), size)
				if err := c.WriteMessage(ws.OpText, []byte(msg)); err != nil {
					t.Fatal(err)
				}
				if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
					t.Fatalf("echo of %d bytes: %d bytes, %v", size, len(p), err)
				}
			}
			// Keep-alive requests: all but the first are the HTTP
			// reactor's where it runs.
			cl := &http.Client{Timeout: 10 * time.Second}
			defer cl.CloseIdleConnections()
			var first string
			for i := range 20 {
				res, err := cl.Get("http://127.0.0.1:" + strconv.Itoa(hub.Port) + "/")
				if err != nil {
					t.Fatal(err)
				}
				b, err := io.ReadAll(res.Body)
				res.Body.Close()
				if err != nil || res.StatusCode != 200 || len(b) == 0 || (i > 0 && string(b) != first) {
					t.Fatalf("request %d: %d %q %v", i, res.StatusCode, b, err)
				}
				first = string(b)
			}
			if got := strings.Contains(hub.log.String(), "HTTP reactor started"); got != tc.ring {
				t.Fatalf("HTTP reactor started: %v, want %v", got, tc.ring)
			}
			want := fmt.Sprintf("io_uring=%v", tc.ring)
			if log := hub.log.String(); !strings.Contains(log, "tunnel reactors started") || !strings.Contains(log, want) {
				t.Fatalf("log lacks %q:\n%s", want, log)
			}
		})
	}
}
