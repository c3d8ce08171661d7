package e2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestSIGHUPReload: SIGHUP re-reads the configuration file: the static
// backends change without a restart; an invalid file is refused and the
// node keeps running on what it had.
func TestSIGHUPReload(t *testing.T) {
	named := func(name string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, name)
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := named("a"), named("b")
	file := filepath.Join(t.TempDir(), "switchboard.yaml")
	write := func(content string) {
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("proxy:\n  backends: [" + a.URL + "]\n")
	hub := startSB(t, "--config", file)
	hub.waitPool(t, a.URL)

	write("proxy:\n  backends: [" + b.URL + "]\nlog:\n  level: info\n")
	if err := hub.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	hub.waitPool(t, b.URL)
	if code, body := httpGet(hub.URL() + "/"); code != 200 || body != "b" {
		t.Fatalf("after reload: %d %q", code, body)
	}

	write("proxy:\n  backends: [\"http://{ip}:{port}\"]\n")
	if err := hub.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, "the refusal logged", func() bool { return strings.Contains(hub.log.String(), "reload refused") })
	hub.waitPool(t, b.URL)
	select {
	case <-hub.done:
		t.Fatal("switchboard exited on an invalid reload")
	case <-time.After(100 * time.Millisecond):
	}
	if code, body := httpGet(hub.URL() + "/"); code != 200 || body != "b" {
		t.Fatalf("after a refused reload: %d %q", code, body)
	}
}
