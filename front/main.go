// Command front is hotgo's front door: a reverse proxy that owns the client connections while
// generations of a service come and go behind it.
//
//	front -listen 127.0.0.1:8080 -upstream 127.0.0.1:8081 -hold 30s
//
// Each client connection has an upstream connection of its own, and the front door copies raw
// bytes, reading of each message's head only what says where it ends (head.go). On Linux an event
// loop serves the common exchange (loop_linux.go); a relay (relay.go), a goroutine per client
// connection, serves what the loop hands over and, elsewhere, every connection.
//
// What it guarantees:
//
//   - A request that finds no process accepting on the upstream address (the stop-then-start
//     gap of socket mode none, a crash restart) is held: its dial is tried again every 5 ms
//     while it is refused, up to -hold; then 502.
//   - hotgo talks to it on stdin, one command a line, and reads the answers on stdout:
//     "pause ID SECONDS" before it stops a generation that has no successor yet: new requests
//     wait, and "paused ID N" comes once every request let in has its whole answer (N left
//     after SECONDS). "hold ID SECONDS" before it stops an old generation while a new one
//     serves: new requests wait, and "held ID N" comes once every request let in has its
//     answer's head (a draining server finishes an answer it has begun), and the answers under
//     way have had up to 100 ms to end (so that the front door, not the server, closes their
//     connections). Both make every
//     upstream connection open so far stale: closed by the front door once idle, never used
//     again. "resume ID" (hotgo sends it once nothing but the new generation accepts; or by
//     itself -hold after a pause or hold) lets the requests go, on new connections; "resumed ID".
//     So no request is ever written on a connection a draining generation may close as idle.
//   - A request is sent again only when it is certain the upstream never received it: its
//     connection was seen closed before anything was written (a non-blocking peek before each
//     reuse), or writing failed with not one byte written. That needs the request whole in
//     memory: a head and body of at most 32 KiB. A request that was written is never sent
//     again: if its answer does not come, the client gets a 502.
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// retryEvery is how often a refused dial is tried again while the hold lasts.
const retryEvery = 5 * time.Millisecond

type front struct {
	gate   *gate
	target string
	hold   time.Duration
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || refusedOS(err)
}

var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// dialHeld dials addr, again every retryEvery while it is refused, for at most hold.
func dialHeld(addr string, hold time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(hold)
	for {
		conn, err := dialer.Dial("tcp", addr)
		if err == nil || !isRefused(err) || !time.Now().Before(deadline) {
			return conn, err
		}
		time.Sleep(retryEvery)
	}
}

// serveRelays accepts on ln and serves each client connection with a relay of its own.
func (f *front) serveRelays(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(5 * time.Millisecond)
				continue
			}
			return err
		}
		go newRelay(f, conn, nil).serve(nil)
	}
}

// commands reads hotgo's commands; stdin closing (hotgo gone) ends the front door. The waits
// run beside the reader, so a "resume" is never queued behind a pause's wait.
func commands(in io.Reader, out io.Writer, f *front) {
	var mu sync.Mutex
	say := func(format string, args ...any) {
		mu.Lock()
		fmt.Fprintf(out, format+"\n", args...)
		mu.Unlock()
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		fields := strings.Fields(lines.Text())
		if len(fields) < 2 {
			continue
		}
		id := fields[1]
		wait := time.Second
		if len(fields) > 2 {
			if seconds, err := strconv.ParseFloat(fields[2], 64); err == nil {
				wait = time.Duration(seconds * float64(time.Second))
			}
		}
		switch fields[0] {
		case "pause": // the generation is stopped next and not replaced yet: whole answers
			go func() { say("paused %s %d", id, f.gate.stop(&f.gate.inflight, wait, f.hold)) }()
		case "hold": // the generation drains next: answers it has begun it finishes
			go func() { say("held %s %d", id, f.gate.stop(&f.gate.asking, wait, f.hold)) }()
		case "resume":
			f.gate.resume(-1)
			say("resumed %s", id)
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "the address clients connect to")
	target := flag.String("upstream", "", "the service's address, host:port")
	hold := flag.Duration("hold", 30*time.Second, "how long a request waits for a generation to accept")
	relaysOnly := flag.Bool("relays", false, "a relay for every connection, no event loop (to compare them)")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "front: -upstream is required")
		os.Exit(2)
	}
	f := &front{gate: newGate(), target: *target, hold: *hold}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "front: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	go func() {
		commands(os.Stdin, os.Stdout, f)
		os.Exit(0)
	}()
	serve := f.serve
	if *relaysOnly {
		serve = f.serveRelays
	}
	if err := serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "front: %v\n", err)
		os.Exit(1)
	}
}
