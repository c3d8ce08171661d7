package control

import (
	"strings"
	"testing"
)

// TestLoopbackOnly: without a token (and without AllowRemote) only
// loopback peers connect. The suite's traffic stays on loopback, so the
// refusal is tested on the addresses themselves; TestToken covers the
// CONNECT_ERROR path end to end.
func TestLoopbackOnly(t *testing.T) {
	for remote, ok := range map[string]bool{
		"127.0.0.1:4000":           true,
		"127.9.8.7:4000":           true,
		"[::1]:4000":               true,
		"[::ffff:127.0.0.1]:4000":  true,
		"192.0.2.10:4000":          false,
		"[2001:db8::1]:4000":       false,
		"[::ffff:192.0.2.10]:4000": false,
		"0.0.0.0:4000":             false,
		"":                         false,
		"not an address":           false,
	} {
		err := loopbackOnly(remote)
		if (err == nil) != ok {
			t.Errorf("loopbackOnly(%q) = %v, want ok %v", remote, err, ok)
		}
		if err != nil && !strings.Contains(err.Error(), "only loopback peers may register") {
			t.Errorf("loopbackOnly(%q) = %q, want the reason", remote, err)
		}
	}
}
