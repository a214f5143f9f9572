// Command plain is an ordinary net/http service that knows nothing about
// hotgo: hotgo can still rebuild and restart it, but not hand its socket over
// without dropping requests.
//
// Adopting hotgo: `hotgo helper` in this module writes the Go helper package
// into internal/hotgo (offline, from the installed hotgo), then two lines change:
//
//	import:   "example.com/plain/internal/hotgo"
//	main:     if err := hotgo.ListenAndServe(*addr, mux); err != nil {   // was http.ListenAndServe
//
// hotgo.ListenAndServe takes the socket hotgo passes (or binds addr itself),
// reports READY=1 and drains gracefully on SIGTERM; it returns nil after a
// clean drain.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
)

const version = "v1"

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "version=%s pid=%d\n", version, os.Getpid())
	})

	log.Printf("plain %s pid=%d listening on %s", version, os.Getpid(), *addr)
	if err := http.ListenAndServe(*addr, mux); err != nil {
		log.Fatal(err)
	}
}
