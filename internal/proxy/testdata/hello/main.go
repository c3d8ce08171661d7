// Command hello is the benchmark backend: it answers "Hello, World!" (13
// bytes) on every address given as an argument.
package main

import (
	"io"
	"log"
	"net/http"
	"os"
	"sync"
)

func main() {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "Hello, World!")
	})
	var wg sync.WaitGroup
	for _, addr := range os.Args[1:] {
		wg.Go(func() { log.Fatal(http.ListenAndServe(addr, h)) })
	}
	wg.Wait()
}
