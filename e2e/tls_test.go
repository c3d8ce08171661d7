package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	sbclient "github.com/switchboard-lb/switchboard/client"
	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// TestTLSListener: Switchboard serves its main listener over TLS. The
// stock npm client registers over https (polling, then the upgrade to
// wss) and our Go SDK over wss; requests reach the backends with
// X-Forwarded-Proto https; certificate files renewed in place are served
// to new connections while existing ones carry on.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	cert := testutil.WriteCert(t, dir, 1)
	hub := startSB(t, "--listen-tls-cert", cert.CertFile, "--listen-tls-key", cert.KeyFile)
	base := "https://127.0.0.1:" + strconv.Itoa(hub.Port)

	nodePort := freePort(t)
	n := testutil.StartNode(t, "e2e/testdata/tls-backend.js", nil, base, cert.CertFile, strconv.Itoa(nodePort))
	// The two lines come in either order.
	var registered, upgraded string
	for registered == "" || upgraded == "" {
		switch l := n.Expect(t, "", 30*time.Second); {
		case strings.HasPrefix(l, "REGISTERED"):
			registered = l
		case strings.HasPrefix(l, "UPGRADED"):
			upgraded = l
		case strings.HasPrefix(l, "FAIL"):
			t.Fatal(l)
		}
	}
	if !strings.Contains(registered, `"ok":true`) || upgraded != "UPGRADED websocket" {
		t.Fatalf("npm client over TLS: %s; %s", registered, upgraded)
	}

	// The Go SDK registers a second backend over wss.
	gob := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "proto="+r.Header.Get("X-Forwarded-Proto"))
	}))
	t.Cleanup(gob.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := sbclient.Dial(ctx, []string{base + "/list"}, sbclient.WithAddress(gob.URL), sbclient.WithTLSConfig(&tls.Config{RootCAs: cert.Pool}))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Join(ctx, "alice"); err != nil {
		t.Fatal(err)
	}
	hub.waitPool(t, addr(nodePort), gob.URL)

	// Over HTTP/1.1, then over HTTP/2 (offered in ALPN by default).
	for _, h2 := range []bool{false, true} {
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: cert.Pool}, ForceAttemptHTTP2: h2}, Timeout: 10 * time.Second}
		defer hc.CloseIdleConnections()
		for range 4 { // round robin over both backends
			res, err := hc.Get(base + "/")
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			if res.StatusCode != 200 || string(b) != "proto=https" || (res.ProtoMajor == 2) != h2 {
				t.Fatalf("GET over TLS (HTTP/2 %v) = %s %d %q", h2, res.Proto, res.StatusCode, b)
			}
		}
	}
	if code, body := httpGet(hub.URL() + "/"); code != http.StatusBadRequest || !strings.Contains(body, "TLS only") {
		t.Fatalf("plain HTTP to the TLS port = %d %q", code, body)
	}

	// Renewal: new files in place; new handshakes get them.
	cert2 := testutil.WriteCert(t, dir, 2)
	testutil.WaitFor(t, "renewed certificate served", func() bool {
		return serial(t, hub.Port, cert2.Pool) == 2
	})
	// Both registrations survived the renewal.
	hub.waitPool(t, addr(nodePort), gob.URL)
	if ok, holder, err := c.Exists(ctx, "alice"); err != nil || !ok || holder != gob.URL {
		t.Fatalf("Exists after renewal = %v %q %v", ok, holder, err)
	}
}

// serial returns the serial number of the certificate served on port, or
// 0 if it does not verify with pool.
func serial(t *testing.T, port int, pool *x509.CertPool) int64 {
	t.Helper()
	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(port),
		&tls.Config{RootCAs: pool})
	if err != nil {
		return 0
	}
	defer tc.Close()
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestTLSListenerNoHTTP2: --listen-no-http2 leaves HTTP/2 out of ALPN, so
// a client offering h2 and http/1.1 gets http/1.1.
func TestTLSListenerNoHTTP2(t *testing.T) {
	cert := testutil.WriteCert(t, t.TempDir(), 1)
	for _, c := range []struct {
		args []string
		want string
	}{{nil, "h2"}, {[]string{"--listen-no-http2"}, "http/1.1"}} {
		hub := startSB(t, append([]string{"--listen-tls-cert", cert.CertFile, "--listen-tls-key", cert.KeyFile}, c.args...)...)
		tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", "127.0.0.1:"+strconv.Itoa(hub.Port),
			&tls.Config{RootCAs: cert.Pool, NextProtos: []string{"h2", "http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		got := tc.ConnectionState().NegotiatedProtocol
		_ = tc.Close()
		if got != c.want {
			t.Fatalf("flags %v: ALPN chose %q, want %q", c.args, got, c.want)
		}
	}
}
