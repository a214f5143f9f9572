package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The pinned path: each client connection has its own upstream connection, and a request is
// written, and its answer read, by the goroutine serving the client connection. No connection
// pool, no hand-off between goroutines: that is what makes the front door cheap per request.

type pinnedKey struct{}

// pinned is one client connection's upstream connection (nil until its first request).
type pinned struct {
	conn  net.Conn
	out   *countWriter
	in    *countReader
	bw    *bufio.Writer
	br    *bufio.Reader
	epoch int
}

func (p *pinned) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// open: the upstream has not closed the idle connection (a draining generation closes its idle
// connections): nothing to read now, without waiting, says so.
func (p *pinned) open() bool {
	if p.br.Buffered() > 0 {
		return false // an answer nobody asked for
	}
	return idleOpen(p.conn)
}

func (p *pinned) use(conn net.Conn, epoch int) {
	p.conn, p.epoch = conn, epoch
	p.out = &countWriter{w: conn}
	p.in = &countReader{r: conn}
	p.bw = bufio.NewWriterSize(p.out, 8<<10)
	p.br = bufio.NewReaderSize(p.in, 8<<10)
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

func (f *front) connContext(ctx context.Context, c net.Conn) context.Context {
	p := &pinned{}
	f.conns.Store(c, p)
	return context.WithValue(ctx, pinnedKey{}, p)
}

func (f *front) connState(c net.Conn, state http.ConnState) {
	if state == http.StateClosed || state == http.StateHijacked {
		if p, ok := f.conns.LoadAndDelete(c); ok {
			p.(*pinned).close() // the client's connection is done with: so is its upstream one
		}
	}
}

// epochs: "resume" starts a new one; a connection opened in an earlier one is not used again.
// next returns once the requests sent in the previous one have the header of their answer.
type epochs struct {
	mu      sync.Mutex
	current int
	waiting map[int]int
	changed *sync.Cond
}

func newEpochs() *epochs {
	e := &epochs{waiting: map[int]int{}}
	e.changed = sync.NewCond(&e.mu)
	return e
}

func (e *epochs) begin() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.waiting[e.current]++
	return e.current
}

func (e *epochs) end(epoch int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.waiting[epoch]--; e.waiting[epoch] == 0 {
		delete(e.waiting, epoch)
		e.changed.Broadcast()
	}
}

func (e *epochs) next(wait time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.current
	e.current++
	deadline := time.Now().Add(wait)
	wake := time.AfterFunc(wait, func() { e.mu.Lock(); e.changed.Broadcast(); e.mu.Unlock() })
	defer wake.Stop()
	for e.waiting[old] > 0 && time.Now().Before(deadline) {
		e.changed.Wait()
	}
}

// hopHeaders are for one connection, not to be passed on (RFC 9110 7.6.1).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade", "Expect"}

func dropHop(h http.Header) {
	for _, field := range h.Values("Connection") {
		for _, name := range strings.Split(field, ",") {
			if name = strings.TrimSpace(name); name != "" {
				h.Del(name)
			}
		}
	}
	for _, name := range hopHeaders {
		h.Del(name)
	}
}

func outgoing(r *http.Request, target string) *http.Request {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = "http", target
	out.Host = r.Host
	out.Close = false
	dropHop(out.Header)
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header["User-Agent"] = []string{""} // not Go's default
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := out.Header.Values("X-Forwarded-For"); len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		out.Header.Set("X-Forwarded-For", ip)
	}
	if out.Header.Get("X-Forwarded-Host") == "" {
		out.Header.Set("X-Forwarded-Host", r.Host)
	}
	if out.Header.Get("X-Forwarded-Proto") == "" {
		out.Header.Set("X-Forwarded-Proto", "http")
	}
	return out
}

// retryable says whether forward sends the request again after err (see there).
func retryable(err error, p *pinned, reused bool, out *http.Request, rewindable bool, attempt int,
	r *http.Request) bool {
	nothingWritten := p.out.n == 0
	closedIdle := reused && p.in.n == 0 && idempotent(out)
	return attempt < 2 && rewindable && (nothingWritten || closedIdle) && r.Context().Err() == nil
}

// idempotent: the requests Go's Transport resends after a reused connection closed before any
// byte of the answer (Request.isReplayable in net/http).
func idempotent(r *http.Request) bool {
	switch r.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return r.Header.Get("Idempotency-Key") != "" || r.Header.Get("X-Idempotency-Key") != ""
}

// forward sends r on the client connection's upstream connection and copies the answer back.
func (f *front) forward(w http.ResponseWriter, r *http.Request, p *pinned) {
	out := outgoing(r, f.target)
	rewindable := out.Body == nil || out.Body == http.NoBody || out.GetBody != nil
	for attempt := 0; ; attempt++ {
		epoch := f.epochs.begin()
		if p.conn != nil && (p.epoch != epoch || !p.open()) {
			p.close() // of an earlier epoch (generation), or closed by the upstream while idle
		}
		reused := p.conn != nil
		if !reused {
			conn, err := dialHeld(r.Context(), dialer, f.target, f.hold)
			if err != nil {
				f.epochs.end(epoch)
				f.gate.answered()
				http.Error(w, "front door: no generation accepts: "+err.Error(), http.StatusBadGateway)
				return
			}
			p.use(conn, epoch)
		}
		p.out.n, p.in.n = 0, 0
		err := out.Write(p.bw)
		if err == nil {
			err = p.bw.Flush()
		}
		var resp *http.Response
		if err == nil {
			resp, err = http.ReadResponse(p.br, out)
			for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != 101 {
				resp, err = http.ReadResponse(p.br, out) // 103 Early Hints: not passed on
			}
		}
		f.epochs.end(epoch)
		if err != nil && !retryable(err, p, reused, out, rewindable, attempt, r) {
			f.gate.answered()
		} else if err == nil {
			f.gate.answered()
		}
		if err != nil {
			nothingWritten := p.out.n == 0
			closedIdle := reused && p.in.n == 0 && idempotent(out)
			p.close()
			if attempt < 2 && rewindable && (nothingWritten || closedIdle) && r.Context().Err() == nil {
				// still asking: gate.answered comes with the answer to the next attempt
				if out.GetBody != nil {
					if out.Body, err = out.GetBody(); err != nil {
						f.gate.answered()
						break
					}
				}
				continue // certain the upstream never received it: again, on a new connection
			}
			http.Error(w, "front door: the service did not answer: "+err.Error(), http.StatusBadGateway)
			return
		}
		f.answer(w, resp, p)
		return
	}
	http.Error(w, "front door: the request body cannot be sent again", http.StatusBadGateway)
}

func (f *front) answer(w http.ResponseWriter, resp *http.Response, p *pinned) {
	dropHop(resp.Header)
	h := w.Header()
	for name, values := range resp.Header {
		h[name] = values
	}
	w.WriteHeader(resp.StatusCode)
	var err error
	if resp.ContentLength == -1 || strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		err = copyFlushing(w, resp.Body)
	} else {
		_, err = io.Copy(w, resp.Body)
	}
	resp.Body.Close()
	if err != nil || resp.Close {
		p.close()
	}
	if err != nil && !errors.Is(err, io.EOF) {
		panic(http.ErrAbortHandler) // the answer is cut: so is the client's connection
	}
}

// copyFlushing passes on a streamed answer as it comes.
func copyFlushing(w http.ResponseWriter, body io.Reader) error {
	flusher, _ := w.(http.Flusher)
	buf := make([]byte, 32<<10)
	for {
		n, err := body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}
