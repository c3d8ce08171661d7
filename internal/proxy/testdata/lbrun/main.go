// Command lbrun runs the proxy alone, for benchmarks:
//
//	lbrun LISTEN BACKEND_URL...
//
// It serves through the proxy's own front end (NETHTTP=1: plain net/http)
// with default settings; CPUPROFILE=file writes an 8-second CPU profile.
package main

import (
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"runtime/pprof"
	"time"

	"github.com/switchboard-lb/switchboard/internal/backend"
	"github.com/switchboard-lb/switchboard/internal/balance"
	"github.com/switchboard-lb/switchboard/internal/proxy"
)

func main() {
	reg := backend.NewRegistry()
	for i, raw := range os.Args[2:] {
		u, err := url.Parse(raw)
		if err != nil {
			log.Fatal(err)
		}
		reg.Add(&backend.Backend{ID: string(rune('a' + i)), URL: u, Addr: u.Host, Weight: 1, Since: time.Now()})
	}
	p, err := proxy.New(proxy.Config{}, reg, balance.NewSmoothWRR(), slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err != nil {
		log.Fatal(err)
	}
	if f := os.Getenv("CPUPROFILE"); f != "" {
		out, err := os.Create(f)
		if err != nil {
			log.Fatal(err)
		}
		_ = pprof.StartCPUProfile(out)
		go func() {
			time.Sleep(8 * time.Second)
			pprof.StopCPUProfile()
			_ = out.Close()
		}()
	}
	if os.Getenv("NETHTTP") != "" {
		srv := &http.Server{Addr: os.Args[1], Handler: p}
		log.Fatal(srv.ListenAndServe())
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		log.Fatal(err)
	}
	log.Fatal(proxy.NewServer(p, proxy.ServerConfig{}, p).Serve(ln))
}
