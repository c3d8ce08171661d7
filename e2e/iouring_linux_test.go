package e2e

import (
	"fmt"
	"strings"
	"testing"

	"github.com/switchboard-lb/switchboard/internal/rawio"
	"github.com/switchboard-lb/switchboard/internal/ws"
)

// TestTunnelIOURingOption: by default the binary's tunnel reactors write
// through io_uring where this kernel allows it; --proxy-no-io-uring turns
// it off. Either way, messages of every size echo intact.
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
			want := fmt.Sprintf("io_uring=%v", tc.ring)
			if log := hub.log.String(); !strings.Contains(log, "tunnel reactors started") || !strings.Contains(log, want) {
				t.Fatalf("log lacks %q:\n%s", want, log)
			}
		})
	}
}
