// Package certfile serves a TLS certificate from a pair of PEM files and
// picks up a renewed pair without a restart.
//
// A certificate renewal (certbot, cert-manager, a deploy script) replaces
// the files in place. Instead of asking the operator to signal or restart
// the process, Pair checks the files' size and modification time at most
// once per CheckInterval, from the handshake that needs the certificate,
// and loads them again when either changed. A pair that fails to load
// (half-written, mismatched key) is reported once and the previous
// certificate stays in use, so a bad renewal never takes the listener down.
package certfile

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// CheckInterval is how often, at most, the files are looked at.
const CheckInterval = time.Second

// Pair is a certificate loaded from a certificate file and a key file.
// Its methods are safe for concurrent use.
type Pair struct {
	certPath, keyPath string
	log               *slog.Logger
	now               func() time.Time

	cert atomic.Pointer[tls.Certificate]
	next atomic.Int64 // unix nanoseconds of the next check

	mu     sync.Mutex // serialises checks and loads
	stamp  stamp      // of the files behind cert
	failed stamp      // of the last pair that failed to load (reported once)
}

// stamp identifies one version of the two files.
type stamp struct {
	certSize, keySize int64
	certMod, keyMod   int64 // unix nanoseconds
}

// Load reads the pair once; it fails if the files cannot be read or do not
// form a certificate and its key. log receives reload reports (nil: the
// default logger).
func Load(certPath, keyPath string, log *slog.Logger) (*Pair, error) {
	if log == nil {
		log = slog.Default()
	}
	p := &Pair{certPath: certPath, keyPath: keyPath, log: log, now: time.Now}
	st, err := p.stat()
	if err != nil {
		return nil, err
	}
	c, err := tls.LoadX509KeyPair(certPath, keyPath)
	if err != nil {
		return nil, fmt.Errorf("certfile: %w", err)
	}
	p.cert.Store(&c)
	p.stamp = st
	p.next.Store(p.now().Add(CheckInterval).UnixNano())
	return p, nil
}

// Certificate returns the current certificate, first loading the files
// again if they changed since the last check (at most once per
// CheckInterval). It never fails once Load succeeded.
func (p *Pair) Certificate() *tls.Certificate {
	if now := p.now().UnixNano(); now >= p.next.Load() {
		p.check(now)
	}
	return p.cert.Load()
}

// GetCertificate is Certificate in the shape of tls.Config.GetCertificate.
func (p *Pair) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return p.Certificate(), nil
}

// ServerConfig returns a server configuration presenting the pair: TLS 1.2
// or later, offering the ALPN protocols given (nil: HTTP/1.1 only).
func (p *Pair) ServerConfig(alpn ...string) *tls.Config {
	if len(alpn) == 0 {
		alpn = []string{"http/1.1"}
	}
	return &tls.Config{
		GetCertificate: p.GetCertificate,
		MinVersion:     tls.VersionTLS12,
		NextProtos:     alpn,
	}
}

// check reloads the pair if its files changed.
func (p *Pair) check(now int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if now < p.next.Load() {
		return // another handshake checked meanwhile
	}
	p.next.Store(now + int64(CheckInterval))
	st, err := p.stat()
	if err != nil {
		if st != p.failed {
			p.failed = st
			p.log.Warn("tls certificate files unreadable; keeping the loaded certificate", "err", err)
		}
		return
	}
	if st == p.stamp || st == p.failed {
		return
	}
	c, err := tls.LoadX509KeyPair(p.certPath, p.keyPath)
	if err != nil {
		p.failed = st
		p.log.Warn("tls certificate files changed but do not load; keeping the loaded certificate", "err", err)
		return
	}
	p.cert.Store(&c)
	p.stamp, p.failed = st, stamp{}
	p.log.Info("tls certificate reloaded", "cert", p.certPath)
}

func (p *Pair) stat() (stamp, error) {
	cf, err := os.Stat(p.certPath)
	if err != nil {
		return stamp{}, fmt.Errorf("certfile: %w", err)
	}
	kf, err := os.Stat(p.keyPath)
	if err != nil {
		return stamp{}, fmt.Errorf("certfile: %w", err)
	}
	return stamp{certSize: cf.Size(), keySize: kf.Size(), certMod: cf.ModTime().UnixNano(), keyMod: kf.ModTime().UnixNano()}, nil
}
