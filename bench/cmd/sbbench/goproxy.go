package main

import (
	"flag"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// cmdGoProxy runs Go's httputil.ReverseProxy round-robin over the backends:
// the "what you get for free in Go" reference of the proxy scenario.
func cmdGoProxy(args []string) error {
	fs := flag.NewFlagSet("goproxy", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:8088", "listen address")
	backends := fs.String("backends", "http://127.0.0.1:9001,http://127.0.0.1:9002,http://127.0.0.1:9003", "backend URLs, comma-separated")
	idle := fs.Int("idle-per-host", 1024, "idle keep-alive connections per backend (Go's default is 2)")
	maxRun := fs.Duration("max", 2*time.Hour, "exit after this long (safety bound)")
	fs.Parse(args)
	var targets []*url.URL
	for _, b := range strings.Split(*backends, ",") {
		u, err := url.Parse(strings.TrimSpace(b))
		if err != nil {
			return err
		}
		targets = append(targets, u)
	}
	var next atomic.Uint64
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = *idle
	tr.MaxIdleConns = *idle * len(targets)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			t := targets[next.Add(1)%uint64(len(targets))]
			r.SetURL(t)
			r.Out.Host = r.In.Host
		},
		Transport: tr,
	}
	return serveBounded(*addr, rp, *maxRun, "", nil)
}
