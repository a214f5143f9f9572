// Command winsvc is the service tests/test_wine.py runs under hotgo on Windows
// (Wine). Standard library only.
//
//	GET /      version=<version> pid=<pid> child=<child pid or 0>
//	GET /slow  answers after 3 s (a request in flight while hotgo stops it)
//
// On CTRL_BREAK_EVENT (os.Interrupt in Go) it drains with http.Server.Shutdown
// and exits 0, unless -ignore-break. With -child it starts a copy of itself that
// only sleeps, so that tests can see the whole tree go. The version is set at
// build time: -ldflags "-X main.version=v2".
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"time"
)

var version = "v1"

func main() {
	ignoreBreak := flag.Bool("ignore-break", false, "keep serving on CTRL_BREAK_EVENT")
	withChild := flag.Bool("child", false, "start a child process that sleeps")
	sleep := flag.Bool("sleep", false, "only sleep (the child)")
	flag.Parse()
	if *sleep {
		time.Sleep(time.Hour)
		return
	}

	breaks := make(chan os.Signal, 1)
	signal.Notify(breaks, os.Interrupt)

	childPid := 0
	if *withChild {
		child := exec.Command(os.Args[0], "-sleep")
		if err := child.Start(); err != nil {
			log.Fatalf("child: %v", err)
		}
		childPid = child.Process.Pid
	}

	addr := strings.Split(os.Getenv("HOTGO_LISTEN"), ",")[0]
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	generation := os.Getenv("HOTGO_GENERATION")
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Hotgo-Generation", generation)
		fmt.Fprintf(w, "version=%s pid=%d child=%d\n", version, os.Getpid(), childPid)
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		log.Printf("GET /slow started")
		time.Sleep(3 * time.Second)
		fmt.Fprintf(w, "slow version=%s done\n", version)
	})
	server := &http.Server{Handler: mux}
	log.Printf("winsvc %s pid=%d child=%d serving on %s", version, os.Getpid(), childPid, ln.Addr())
	go func() {
		if err := server.Serve(ln); err != http.ErrServerClosed {
			log.Fatalf("serve: %v", err)
		}
	}()

	for range breaks {
		if *ignoreBreak {
			log.Printf("CTRL_BREAK received: ignored")
			continue
		}
		log.Printf("CTRL_BREAK received: draining")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err := server.Shutdown(ctx)
		cancel()
		log.Printf("drained (%v)", err)
		return
	}
}
