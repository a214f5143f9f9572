// Command front is hotgo's front door: a reverse proxy that owns the client
// connections while generations of a service come and go behind it.
//
//	front -listen 127.0.0.1:8080 -upstream 127.0.0.1:8081 -hold 30s
//
// What it guarantees:
//
//   - A request that finds no process accepting on the upstream address (the
//     stop-then-start gap of socket mode none) is held: the dial is retried
//     every 5 ms while it is refused, up to -hold; then 502.
//   - hotgo may write "pause" on stdin before it stops a generation: new
//     requests wait (up to -hold) and the front door answers "paused" on stdout
//     once the requests in flight have finished (or -hold passed). "resume"
//     (or -hold after the pause) lets them go, on new upstream connections;
//     hotgo writes it when a new generation is ready, before it stops the old
//     one. The front door answers "resumed" once every request sent on the
//     old connections has the header of its answer (at most 1 s): none is
//     then unread on a connection the old generation may close as idle, and
//     the old idle connections are closed and never reused.
//   - A request is sent again only when Go's http.Transport is certain the
//     upstream never received it: nothing of it was written on the connection
//     (nothingWrittenError), or, for a GET, HEAD, OPTIONS or TRACE (or a
//     request with an Idempotency-Key header), the reused idle connection was
//     closed by the upstream before any byte of the answer came. Bodies up to
//     1 MiB are buffered so that they can be sent again; a larger body is
//     streamed and never resent. Any other upstream failure is a 502.
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

func newTransport(hold time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			deadline := time.Now().Add(hold)
			for {
				conn, err := dialer.DialContext(ctx, network, addr)
				if err == nil || !isRefused(err) || !time.Now().Before(deadline) {
					return conn, err
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(retryEvery):
				}
			}
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
	gate  *gate
	proxy *httputil.ReverseProxy
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
	f.proxy.ServeHTTP(w, r)
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
	return &front{gate: newGate(), proxy: proxy}
}

// commands reads "pause" and "resume" lines; stdin closing (hotgo gone) ends the front door.
func commands(in io.Reader, out io.Writer, f *front, u *upstream, hold time.Duration) {
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		switch lines.Text() {
		case "pause":
			left := f.gate.pause(hold)
			fmt.Fprintf(out, "paused %d\n", left)
		case "hold": // new requests wait; those in flight go on
			f.gate.pause(0)
			fmt.Fprintln(out, "held")
		case "resume":
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
	server := &http.Server{Handler: f, ReadHeaderTimeout: time.Minute}
	if err := server.Serve(ln); err != nil {
		fmt.Fprintf(os.Stderr, "front: %v\n", err)
		os.Exit(1)
	}
}
