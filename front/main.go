// Command front is hotgo's front door: a reverse proxy that owns the client
// connections while generations of a service come and go behind it.
//
//	front -listen 127.0.0.1:8080 -upstream 127.0.0.1:8081 -hold 30s
//
// Each client connection gets its own upstream connection (pinned.go): a request is written, and
// its answer read, by the goroutine that serves the client connection, with no connection pool in
// between. Upgrades (WebSocket) go through httputil.ReverseProxy.
//
// What it guarantees:
//
//   - A request that finds no process accepting on the upstream address (the
//     stop-then-start gap of socket mode none) is held: the dial is retried
//     every 5 ms while it is refused, up to -hold; then 502.
//   - hotgo writes "pause" on stdin before it stops a generation that has no
//     successor yet: new requests wait (up to -hold) and the front door
//     answers "paused N" once the requests in flight have finished (N left
//     after -hold). hotgo writes "hold" before it tells an old generation to
//     stop while a new one serves: new requests wait, and the answer "held N"
//     comes once every request let in has its answer's header (at most 1 s):
//     none is then written, or unread, on a connection the old generation may
//     close as idle. "resume" (or -hold after a pause or hold) lets new
//     requests go on new upstream connections; a connection opened before it
//     is never used again.
//   - A request is sent again (at most twice) only when it is certain the
//     upstream never received it: nothing of it was written on the
//     connection; or, for a GET, HEAD, OPTIONS or TRACE (or a request with an
//     Idempotency-Key header) on a reused connection, the connection ended
//     before any byte of the answer (Go's http.Transport rule). Before reusing
//     an idle connection the front door peeks at it without blocking: one the
//     upstream closed is not used. Bodies up to 1 MiB are buffered so that
//     they can be sent again; a larger body streams and is never resent. Any
//     other upstream failure is a 502.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"sync"
	"syscall"
	"time"
)

// maxBuffered is the largest request body held in memory so that it can be resent.
const maxBuffered = 1 << 20

// retryEvery is how often a refused dial is tried again while the hold lasts.
const retryEvery = 5 * time.Millisecond

// gate holds new requests while paused and counts the requests in flight.
type gate struct {
	mu       sync.Mutex
	paused   bool
	open     chan struct{} // closed when not paused
	epoch    int
	inflight int
	idle     *sync.Cond // signalled when inflight drops to 0
	asking   int        // requests in, their answer's header not come yet
}

func newGate() *gate {
	g := &gate{open: make(chan struct{})}
	close(g.open)
	g.idle = sync.NewCond(&g.mu)
	return g
}

// enter waits while paused (the pause ends by itself after its hold) or until ctx ends.
func (g *gate) enter(ctx context.Context) error {
	for {
		g.mu.Lock()
		if !g.paused {
			g.inflight++
			g.asking++
			g.mu.Unlock()
			return nil
		}
		open := g.open
		g.mu.Unlock()
		select {
		case <-open:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// answered: the answer's header came (or never will); called once per request, before leave.
func (g *gate) answered() {
	g.mu.Lock()
	if g.asking--; g.asking == 0 {
		g.idle.Broadcast()
	}
	g.mu.Unlock()
}

// hold stops new requests and waits (at most `wait`) until every request let in has its answer's
// header: none is then written, or unread, on a connection a draining generation may close as idle.
func (g *gate) hold(wait, hold time.Duration) int {
	g.mu.Lock()
	if !g.paused {
		g.paused = true
		g.open = make(chan struct{})
	}
	g.epoch++
	epoch := g.epoch
	g.mu.Unlock()
	time.AfterFunc(hold, func() { g.resumeIf(epoch) })
	wake := time.AfterFunc(wait, func() { g.mu.Lock(); g.idle.Broadcast(); g.mu.Unlock() })
	defer wake.Stop()
	deadline := time.Now().Add(wait)
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.asking > 0 && time.Now().Before(deadline) {
		g.idle.Wait()
	}
	return g.asking
}

func (g *gate) leave() {
	g.mu.Lock()
	g.inflight--
	if g.inflight == 0 {
		g.idle.Broadcast()
	}
	g.mu.Unlock()
}

// pause stops new requests and waits until none is in flight, at most `hold`;
// it returns how many were still in flight.
func (g *gate) pause(hold time.Duration) int {
	g.mu.Lock()
	if !g.paused {
		g.paused = true
		g.open = make(chan struct{})
	}
	g.epoch++
	epoch := g.epoch
	g.mu.Unlock()
	time.AfterFunc(hold, func() { g.resumeIf(epoch) })
	wake := time.AfterFunc(hold, func() { g.mu.Lock(); g.idle.Broadcast(); g.mu.Unlock() })
	defer wake.Stop()
	deadline := time.Now().Add(hold)
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.inflight > 0 && time.Now().Before(deadline) {
		g.idle.Wait()
	}
	return g.inflight
}

func (g *gate) resumeIf(epoch int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.paused && (epoch < 0 || epoch == g.epoch) {
		g.paused = false
		close(g.open)
	}
}

// pool is one transport and the requests it has not answered yet (no response header).
type pool struct {
	transport *http.Transport
	mu        sync.Mutex
	waiting   int
	none      chan struct{} // closed when waiting drops to 0 after a renew
}

// upstream is the RoundTripper in use; renewing it leaves the old one's connections unused.
type upstream struct {
	hold    time.Duration
	mu      sync.RWMutex
	current *pool
}

func (u *upstream) RoundTrip(r *http.Request) (*http.Response, error) {
	u.mu.RLock()
	p := u.current
	p.mu.Lock()
	p.waiting++
	p.mu.Unlock()
	u.mu.RUnlock()
	resp, err := p.transport.RoundTrip(r)
	p.mu.Lock()
	p.waiting--
	if p.waiting == 0 && p.none != nil {
		close(p.none)
		p.none = nil
	}
	p.mu.Unlock()
	return resp, err
}

// renew makes new requests use new connections. It returns once every request sent on the old
// ones has its answer's header (at most `wait`), so that none is still being written, or unread,
// on a connection the old generation may close as idle; then it closes the old idle connections.
func (u *upstream) renew(wait time.Duration) {
	fresh := &pool{transport: newTransport(u.hold)}
	u.mu.Lock()
	old := u.current
	u.current = fresh
	u.mu.Unlock()
	if old == nil {
		return
	}
	old.mu.Lock()
	var none chan struct{}
	if old.waiting > 0 {
		none = make(chan struct{})
		old.none = none
	}
	old.mu.Unlock()
	if none != nil {
		select {
		case <-none:
		case <-time.After(wait):
		}
	}
	old.transport.CloseIdleConnections()
	// Connections still busy return to the old pool when their answers end: close them then.
	time.AfterFunc(u.hold, old.transport.CloseIdleConnections)
}

func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) || refusedOS(err)
}

// dialHeld dials addr, again every retryEvery while it is refused, for at most hold.
func dialHeld(ctx context.Context, dialer *net.Dialer, addr string, hold time.Duration) (net.Conn, error) {
	deadline := time.Now().Add(hold)
	for {
		conn, err := dialer.DialContext(ctx, "tcp", addr)
		if err == nil || !isRefused(err) || !time.Now().Before(deadline) {
			return conn, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(retryEvery):
		}
	}
}

var dialer = &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}

// newTransport is for the requests the pinned path does not take (upgrades: WebSocket).
func newTransport(hold time.Duration) *http.Transport {
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return dialHeld(ctx, dialer, addr, hold)
		},
		ForceAttemptHTTP2:     false,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ExpectContinueTimeout: time.Second,
	}
}

type front struct {
	gate   *gate
	proxy  *httputil.ReverseProxy // upgrades (WebSocket): through Go's Transport
	target string
	hold   time.Duration
	epochs *epochs
	conns  sync.Map // net.Conn -> *pinned
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := bufferBody(r); err != nil {
		http.Error(w, "front door: reading the request body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if err := f.gate.enter(r.Context()); err != nil {
		return // the client went away while the request was held
	}
	defer f.gate.leave()
	p, _ := r.Context().Value(pinnedKey{}).(*pinned)
	if p == nil || r.Header.Get("Upgrade") != "" {
		f.gate.answered() // not followed: an upgraded connection is not one hotgo's handoff closes as idle
		f.proxy.ServeHTTP(w, r)
		return
	}
	f.forward(w, r, p)
}

// bufferBody reads a body of at most maxBuffered bytes into memory and gives it GetBody, so that
// the Transport may send it again when nothing of it was written; a larger body streams.
func bufferBody(r *http.Request) error {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 || r.ContentLength > maxBuffered {
		return nil
	}
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBuffered+1))
	if err != nil {
		return err
	}
	if len(data) > maxBuffered { // chunked and larger: stream what was read, then the rest
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(data), r.Body), r.Body}
		return nil
	}
	r.Body.Close()
	r.ContentLength = int64(len(data))
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return nil
}

func newFront(target *url.URL, hold time.Duration, u *upstream) *front {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
			pr.SetXForwarded()
		},
		Transport:     u,
		FlushInterval: 0, // at the end of each answer; at once for a streamed one (no length, event-stream)
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			http.Error(w, "front door: the service did not answer: "+err.Error(), http.StatusBadGateway)
		},
	}
	return &front{gate: newGate(), proxy: proxy, target: target.Host, hold: hold, epochs: newEpochs()}
}

// commands reads "pause" and "resume" lines; stdin closing (hotgo gone) ends the front door.
func commands(in io.Reader, out io.Writer, f *front, u *upstream, hold time.Duration) {
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case "pause":
			left := f.gate.pause(hold)
			fmt.Fprintf(out, "paused %d\n", left)
		case "hold": // new requests wait; those in flight go on once they have their answer's header
			left := f.gate.hold(time.Second, hold)
			fmt.Fprintf(out, "held %d\n", left)
		case "resume":
			f.epochs.next(time.Second)
			u.renew(time.Second)
			f.gate.resumeIf(-1)
			fmt.Fprintln(out, "resumed")
		}
	}
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "the address clients connect to")
	target := flag.String("upstream", "", "the service's address, host:port")
	hold := flag.Duration("hold", 30*time.Second, "how long a request waits for a generation to accept")
	flag.Parse()
	if *target == "" {
		fmt.Fprintln(os.Stderr, "front: -upstream is required")
		os.Exit(2)
	}
	u := &upstream{hold: *hold}
	u.renew(0)
	f := newFront(&url.URL{Scheme: "http", Host: *target}, *hold, u)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintf(os.Stderr, "front: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	go func() {
		commands(os.Stdin, os.Stdout, f, u, *hold)
		os.Exit(0)
	}()
	server := &http.Server{Handler: f, ReadHeaderTimeout: time.Minute, ConnContext: f.connContext,
		ConnState: f.connState}
	if err := server.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "front: %v\n", err)
		os.Exit(1)
	}
}
