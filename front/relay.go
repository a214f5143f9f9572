package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"net"
	"sync"
)

// A relay serves one client connection with one upstream connection of its own: a request is
// written, and its answer read, by the goroutine serving the client. No pool, no hand-off
// between goroutines, raw bytes copied.

const (
	readBuffer  = 32 << 10 // also the largest head, and head plus body kept to be sent again
	writeBuffer = 16 << 10
)

type relay struct {
	f      *front
	client net.Conn
	cbr    *bufio.Reader
	cbw    *bufio.Writer
	fwd    []byte // X-Forwarded-For for this client, a whole header line

	mu    sync.Mutex // up, stamp and busy, against the gate closing idle connections
	up    net.Conn
	stamp int64 // the gate's generation of connections when up was dialled
	busy  bool
	sent  counter // bytes written on up for the current request
	ubr   *bufio.Reader
	ubw   *bufio.Writer
}

type counter struct {
	w io.Writer
	n int64
}

func (c *counter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// newRelay serves client; read is what was already read from it (by the event loop), if anything.
func newRelay(f *front, client net.Conn, read []byte) *relay {
	var from io.Reader = client
	if len(read) > 0 {
		from = io.MultiReader(bytes.NewReader(read), client)
	}
	r := &relay{f: f, client: client, cbr: bufio.NewReaderSize(from, readBuffer),
		cbw: bufio.NewWriterSize(client, writeBuffer)}
	if ip, _, err := net.SplitHostPort(client.RemoteAddr().String()); err == nil {
		r.fwd = []byte("X-Forwarded-For: " + ip + "\r\n")
	}
	return r
}

// serve passes the client's requests on until its connection ends; first, if not nil, is a step
// to take before (an answer the event loop handed over half way).
func (r *relay) serve(first func() bool) {
	r.f.gate.add(r)
	defer func() {
		r.f.gate.remove(r)
		r.mu.Lock()
		r.dropUpstream()
		r.mu.Unlock()
		r.client.Close()
	}()
	if first != nil && !first() {
		return
	}
	var req head
	for {
		if err := readHead(r.cbr, &req); err != nil {
			if errors.Is(err, errHeadTooLarge) {
				r.fail(431, "request head too large", true)
			} else if !errors.Is(err, io.EOF) && !isNetErr(err) {
				r.fail(400, "malformed request: "+err.Error(), true)
			}
			return
		}
		if !r.exchange(&req) {
			return
		}
	}
}

func isNetErr(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) || errors.Is(err, net.ErrClosed) || errors.Is(err, io.ErrUnexpectedEOF)
}

// fail answers the client itself (502 and the like).
func (r *relay) fail(status int, why string, closing bool) {
	io.WriteString(r.cbw, failAnswer(status, why, closing))
	r.cbw.Flush()
}

// failAnswer is the whole answer the front door gives itself.
func failAnswer(status int, why string, closing bool) string {
	text := "front door: " + why + "\n"
	conn := ""
	if closing {
		conn = "Connection: close\r\n"
	}
	return "HTTP/1.1 " + itoa(int64(status)) + " " + statusText(status) + "\r\n" + conn +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Length: " + itoa(int64(len(text))) + "\r\n\r\n" + text
}

func statusText(status int) string {
	switch status {
	case 400:
		return "Bad Request"
	case 431:
		return "Request Header Fields Too Large"
	}
	return "Bad Gateway"
}

func itoa(n int64) string {
	if n == 0 {
		return "0"
	}
	var b [20]byte
	i := len(b)
	for ; n > 0; n /= 10 {
		i--
		b[i] = byte('0' + n%10)
	}
	return string(b[i:])
}

// closeIfIdle closes the upstream connection if it is stale (dialled before generation gen)
// and no request uses it.
func (r *relay) closeIfIdle(gen int64) {
	r.mu.Lock()
	if !r.busy && r.up != nil && r.stamp != gen {
		r.dropUpstream()
	}
	r.mu.Unlock()
}

// dropUpstream: with r.mu held.
func (r *relay) dropUpstream() {
	if r.up != nil {
		r.up.Close()
		r.up = nil
	}
}

// take marks the relay busy and returns whether its upstream connection can carry a request:
// of the current generation, and not closed by the upstream while idle (a peek that does not wait).
func (r *relay) take() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.busy = true
	if r.up != nil && (r.stamp != r.f.gate.gen.Load() || r.ubr.Buffered() > 0 || !idleOpen(r.up)) {
		r.dropUpstream()
	}
	return r.up != nil
}

func (r *relay) release(keep bool) {
	r.mu.Lock()
	r.busy = false
	if !keep || r.stamp != r.f.gate.gen.Load() {
		r.dropUpstream()
	}
	r.mu.Unlock()
}

// dial opens a new upstream connection, waiting while none is accepted (up to the hold).
func (r *relay) dial() error {
	stamp := r.f.gate.gen.Load() // read before: a connection dialled across a resume is stale
	if r.f.gate.paused.Load() {
		stamp = -1 // for a request let in before a pause: to the generation about to stop, used once
	}
	conn, err := dialHeld(r.f.target, r.f.hold)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.up, r.stamp = conn, stamp
	r.sent = counter{w: conn}
	if r.ubr == nil {
		r.ubr = bufio.NewReaderSize(conn, readBuffer)
		r.ubw = bufio.NewWriterSize(&r.sent, writeBuffer)
	} else {
		r.ubr.Reset(conn)
		r.ubw.Reset(&r.sent)
	}
	r.mu.Unlock()
	return nil
}

// exchange passes one request on and its answer back; false: the client connection ends.
func (r *relay) exchange(req *head) bool {
	r.f.gate.enter()
	t := turn{g: r.f.gate, asking: true, inFlight: true}
	defer t.end()
	isHead := string(req.method) == "HEAD" // req's slices may not outlive a streamed body
	if req.expect {                        // the client waits for this before it sends the body
		io.WriteString(r.cbw, "HTTP/1.1 100 Continue\r\n\r\n")
		if r.cbw.Flush() != nil {
			return false
		}
	}
	keep := false
	defer func() { r.release(keep) }()
	// A body that fits in the buffer with its head is read whole first: if the connection turns
	// out closed before any byte is written, the request can go again on a new one.
	whole := len(req.raw)
	if req.length > 0 {
		whole += int(req.length)
	}
	rewindable := !req.chunked && whole <= readBuffer
	if rewindable && whole > r.cbr.Buffered() {
		size := len(req.raw)
		if _, err := r.cbr.Peek(whole); err != nil {
			return false // the client left
		}
		raw, _ := r.cbr.Peek(size)
		if parseHead(raw, req) != nil {
			return false
		}
	}
	for attempt := 0; ; attempt++ {
		if !r.take() {
			if err := r.dial(); err != nil {
				r.fail(502, "no generation accepts: "+err.Error(), !rewindable)
				return rewindable && r.skip(whole)
			}
		}
		r.sent.n = 0
		err := r.send(req, rewindable, whole)
		if err == nil {
			break
		}
		r.mu.Lock()
		r.dropUpstream()
		r.mu.Unlock()
		if rewindable && r.sent.n == 0 && attempt < 2 {
			continue // certain the upstream never received it: again, on a new connection
		}
		r.fail(502, "the service did not take the request: "+err.Error(), true)
		return false
	}
	var goOn bool
	goOn, keep = r.answer(&t, req.expect, isHead, req.close)
	return goOn
}

// answer passes the answer to a request that was sent (by the relay, or by the event loop, which
// handed it over half way) back to the client. goOn: the client connection can carry another
// request; keep: the upstream one too.
func (r *relay) answer(t *turn, expect, isHead, reqClose bool) (goOn, keep bool) {
	var resp head
	for {
		if err := readHead(r.ubr, &resp); err != nil {
			r.fail(502, "the service did not answer: "+err.Error(), false)
			return true, false
		}
		if resp.status >= 200 || resp.status == 101 {
			break
		}
		if !(resp.status == 100 && expect) { // 103 Early Hints and the like pass; our 100 went already
			r.cbw.Write(resp.raw)
		}
		r.ubr.Discard(len(resp.raw))
	}
	t.headCame()
	r.cbw.Write(resp.raw)
	r.ubr.Discard(len(resp.raw))
	if resp.status == 101 {
		t.upgraded() // an upgraded connection is no request in flight: a pause does not wait for it
		if r.cbw.Flush() == nil {
			r.tunnel()
		}
		return false, false
	}
	var err error
	delimited := false
	switch {
	case isHead || resp.status == 204 || resp.status == 304:
	case resp.chunked:
		err = copyChunked(r.cbw, r.ubr)
	case resp.length >= 0:
		err = copyN(r.cbw, r.ubr, resp.length)
	default: // delimited by the upstream closing: so is the client's answer
		delimited = true
		_, err = io.Copy(r.cbw, r.ubr)
	}
	if ferr := r.cbw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return false, false // the answer is cut: so is the client's connection
	}
	keep = !reqClose && !resp.close && !delimited
	return keep, keep
}

// handedOver takes an answer the event loop began: the request was written on up (dialled for
// gate generation stamp), and read is what was read of it already.
func (r *relay) handedOver(up net.Conn, stamp int64, read []byte, t *turn, expect, isHead, reqClose bool) bool {
	var from io.Reader = up
	if len(read) > 0 {
		from = io.MultiReader(bytes.NewReader(read), up)
	}
	r.mu.Lock()
	r.up, r.stamp, r.busy = up, stamp, true
	r.sent = counter{w: up}
	r.ubr = bufio.NewReaderSize(from, readBuffer)
	r.ubw = bufio.NewWriterSize(&r.sent, writeBuffer)
	r.mu.Unlock()
	goOn, keep := r.answer(t, expect, isHead, reqClose)
	r.release(keep)
	t.end()
	return goOn
}

// skip discards a request the front door answered itself.
func (r *relay) skip(n int) bool {
	_, err := r.cbr.Discard(n)
	return err == nil
}

// send writes the request: whole from the client buffer, or its head and then its body as it comes.
func (r *relay) send(req *head, rewindable bool, whole int) error {
	w := r.ubw
	w.Write(req.raw[:len(req.raw)-eolLen(req.raw)])
	w.Write(r.fwd)
	if !req.fwdHost && len(req.host) > 0 {
		w.WriteString("X-Forwarded-Host: ")
		w.Write(req.host)
		w.WriteString("\r\n")
	}
	if !req.fwdProto {
		w.WriteString("X-Forwarded-Proto: http\r\n")
	}
	w.WriteString("\r\n")
	if rewindable {
		all, _ := r.cbr.Peek(whole)
		w.Write(all[len(req.raw):])
		if err := w.Flush(); err != nil {
			return err
		}
		r.cbr.Discard(whole)
		return nil
	}
	r.cbr.Discard(len(req.raw))
	var err error
	if req.chunked {
		err = copyChunked(w, r.cbr)
	} else if req.length > 0 {
		err = copyN(w, r.cbr, req.length)
	}
	if err == nil {
		err = w.Flush()
	}
	if err != nil && r.sent.n == 0 {
		r.sent.n = 1 // the body was read from the client: it cannot go again
	}
	return err
}

// eolLen: the length of the empty line ending a head.
func eolLen(raw []byte) int {
	if len(raw) >= 2 && raw[len(raw)-2] == '\r' {
		return 2
	}
	return 1
}

// tunnel passes bytes both ways after a 101 Switching Protocols (WebSocket), until either ends.
func (r *relay) tunnel() {
	r.mu.Lock()
	up := r.up
	r.up = nil // the tunnel owns it now
	r.mu.Unlock()
	if up == nil {
		return
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(up, r.cbr)
		done <- struct{}{}
	}()
	go func() {
		io.Copy(r.client, r.ubr)
		done <- struct{}{}
	}()
	<-done
	up.Close()
	r.client.Close()
	<-done
}
