package certfile

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/switchboard-lb/switchboard/internal/testutil"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func serial(t *testing.T, c *tls.Certificate) int64 {
	t.Helper()
	x, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		t.Fatal(err)
	}
	return x.SerialNumber.Int64()
}

func load(t *testing.T, dir string) (*Pair, *clock, *bytes.Buffer) {
	t.Helper()
	var logs bytes.Buffer
	p, err := Load(filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Now()}
	p.now = clk.now
	p.next.Store(clk.t.Add(CheckInterval).UnixNano())
	return p, clk, &logs
}

func TestReloadOnChange(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteCert(t, dir, 1)
	p, clk, logs := load(t, dir)
	if got := serial(t, p.Certificate()); got != 1 {
		t.Fatalf("serial %d, want 1", got)
	}

	testutil.WriteCert(t, dir, 2)
	// Within the check interval the files are not looked at.
	if got := serial(t, p.Certificate()); got != 1 {
		t.Fatalf("serial %d before the interval passed, want 1", got)
	}
	clk.add(CheckInterval)
	if got := serial(t, p.Certificate()); got != 2 {
		t.Fatalf("serial %d after the interval, want 2", got)
	}
	if !strings.Contains(logs.String(), "tls certificate reloaded") {
		t.Fatalf("no reload logged: %s", logs)
	}
}

func TestBadRenewalKeepsCertificate(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteCert(t, dir, 1)
	p, clk, logs := load(t, dir)

	// A key that does not match the certificate.
	other := t.TempDir()
	testutil.WriteCert(t, other, 9)
	key, err := os.ReadFile(filepath.Join(other, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "key.pem"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	keepsSerial(t, p, clk, 1, "after a bad renewal")
	if n := strings.Count(logs.String(), "do not load"); n != 1 {
		t.Fatalf("bad pair reported %d times, want once: %s", n, logs)
	}

	// Files gone: still the old certificate, reported once.
	if err := os.Remove(filepath.Join(dir, "cert.pem")); err != nil {
		t.Fatal(err)
	}
	keepsSerial(t, p, clk, 1, "with the files gone")
	if n := strings.Count(logs.String(), "unreadable"); n != 1 {
		t.Fatalf("missing files reported %d times, want once: %s", n, logs)
	}

	// A good pair again is taken.
	testutil.WriteCert(t, dir, 3)
	clk.add(CheckInterval)
	if got := serial(t, p.Certificate()); got != 3 {
		t.Fatalf("serial %d after a good renewal, want 3", got)
	}
}

// keepsSerial checks, over three check intervals, that p still serves the
// certificate with serial want.
func keepsSerial(t *testing.T, p *Pair, clk *clock, want int64, when string) {
	t.Helper()
	for range 3 {
		clk.add(CheckInterval)
		if got := serial(t, p.Certificate()); got != want {
			t.Fatalf("serial %d %s, want %d", got, when, want)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(filepath.Join(dir, "none.pem"), filepath.Join(dir, "none.key"), nil); err == nil {
		t.Fatal("missing files loaded")
	}
	c := testutil.WriteCert(t, dir, 1)
	if _, err := Load(c.CertFile, c.CertFile, nil); err == nil {
		t.Fatal("a certificate as its own key loaded")
	}
}

// TestHandshake serves a real TLS listener from the pair and renews it.
func TestHandshake(t *testing.T) {
	dir := t.TempDir()
	c1 := testutil.WriteCert(t, dir, 1)
	p, clk, _ := load(t, dir)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", p.ServerConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			_ = nc.(*tls.Conn).Handshake()
			_ = nc.Close()
		}
	}()
	defer wg.Wait()
	defer ln.Close()

	dial := func(pool *x509.CertPool) (int64, error) {
		tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ln.Addr().String(),
			&tls.Config{RootCAs: pool, ServerName: "127.0.0.1", NextProtos: []string{"http/1.1"}})
		if err != nil {
			return 0, err
		}
		defer tc.Close()
		st := tc.ConnectionState()
		if st.NegotiatedProtocol != "http/1.1" {
			t.Errorf("ALPN %q, want http/1.1", st.NegotiatedProtocol)
		}
		return st.PeerCertificates[0].SerialNumber.Int64(), nil
	}
	if s, err := dial(c1.Pool); err != nil || s != 1 {
		t.Fatalf("first handshake: serial %d, %v", s, err)
	}
	c2 := testutil.WriteCert(t, dir, 2)
	clk.add(CheckInterval)
	if s, err := dial(c2.Pool); err != nil || s != 2 {
		t.Fatalf("after renewal: serial %d, %v", s, err)
	}
	if _, err := dial(c1.Pool); err == nil {
		t.Fatal("the old certificate's pool still verifies the renewed one")
	}
}

func TestMain(m *testing.M) { testutil.VerifyNoLeaks(m) }
