package main

import (
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"sync/atomic"
	"time"
)

var helloBody = []byte("Hello, World!")

// cmdBackend runs the proxy benchmark's backend: 13 bytes "Hello, World!"
// on GET /, a WebSocket echo on /ws. It runs until SIGTERM/SIGINT or -max.
func cmdBackend(args []string) error {
	fs := flag.NewFlagSet("backend", flag.ExitOnError)
	addr := fs.String("addr", "127.0.0.1:9001", "listen address")
	maxRun := fs.Duration("max", 2*time.Hour, "exit after this long (safety bound)")
	fs.StringVar(&wsImpl, "ws", wsImpl, "WebSocket implementation: auto|internal|mini")
	fs.Parse(args)

	var wsOpen atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(helloBody)
	})
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := wsAccept(w, r)
		if err != nil {
			return
		}
		wsOpen.Add(1)
		defer wsOpen.Add(-1)
		defer c.Close()
		for {
			op, p, err := c.Read()
			if err != nil {
				return
			}
			if err := c.Write(op, p); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/_stats", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"ws_open": wsOpen.Load(), "ws_impl": implName()})
	})
	err := serveBounded(*addr, mux, *maxRun, " ws="+implName(), nil)
	os.Stdout.Sync()
	return err
}

func implName() string {
	if useInternalWS() {
		return "internal"
	}
	return "mini"
}
