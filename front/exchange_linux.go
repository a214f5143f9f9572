//go:build linux

package main

import (
	"errors"
	"syscall"
)

// One client connection of the event loop (loop_linux.go) and its exchange, as a state machine:
// each step does what the sockets allow without waiting and says whether it moved on.

type phase int

const (
	waitRequest phase = iota // reading the client until a request is whole
	parked                   // the request waits while the gate is paused
	connecting               // a new upstream connection is being set up
	sending                  // writing the request
	waitHead                 // reading the answer's head
	passBody                 // passing the answer on
)

type lconn struct {
	cfd                  int
	in                   []byte // read from the client, not passed on yet: in[:inN]
	inN                  int
	cReadable, cWritable bool
	fwd                  []byte // X-Forwarded-For for this client, a whole header line

	ufd                  int // -1: none
	stamp                int64
	out                  []byte // read from the upstream: out[:outN]
	outN                 int
	uReadable, uWritable bool

	phase                       phase
	t                           turn
	whole                       int    // the request's bytes in `in`
	msg                         []byte // the request as sent: its head with the forwarded headers, its body
	wrote                       int    // bytes of msg written
	attempt                     int
	isHead, reqClose, respClose bool  // the request is HEAD; either side says Connection: close
	left                        int64 // the answer's bytes still to read from the upstream
	toClient                    []byte
	consumed                    int  // bytes of `out` toClient came from
	closeAfter                  bool // close the client once toClient is out
}

func (l *loop) readRequest(c *lconn) bool {
	for c.inN > 0 && (c.in[0] == '\r' || c.in[0] == '\n') { // empty lines before a request line (RFC 9112 2.2)
		copy(c.in, c.in[1:c.inN])
		c.inN--
	}
	if c.inN > 0 {
		if end := headEnd(c.in[:c.inN]); end > 0 {
			var req head
			if parseHead(c.in[:end], &req) != nil || req.chunked || req.expect || req.upgrade {
				l.handOff(c, false) // the relay answers what the loop does not take
				return false
			}
			whole := end
			if req.length > 0 {
				whole += int(req.length)
			}
			if whole > len(c.in) {
				l.handOff(c, false)
				return false
			}
			if whole <= c.inN {
				l.begin(c, &req, end, whole)
				return true
			}
		} else if c.inN == len(c.in) {
			l.handOff(c, false) // a head larger than the buffer: the relay answers 431
			return false
		}
	}
	moved, err := fill(c.cfd, c.in, &c.inN, &c.cReadable)
	if err != nil {
		l.closeConn(c)
		return false
	}
	return moved
}

// begin takes a whole request in: through the gate, onto an upstream connection.
func (l *loop) begin(c *lconn, req *head, end, whole int) {
	if !l.f.gate.tryEnter() {
		c.phase = parked
		l.parkedList = append(l.parkedList, c)
		return
	}
	c.t = turn{g: l.f.gate, asking: true, inFlight: true}
	c.isHead, c.reqClose, c.respClose = string(req.method) == "HEAD", req.close, false
	c.whole, c.attempt = whole, 0
	m := append(c.msg[:0], req.raw[:len(req.raw)-eolLen(req.raw)]...)
	m = append(m, c.fwd...)
	if !req.fwdHost && len(req.host) > 0 {
		m = append(m, "X-Forwarded-Host: "...)
		m = append(m, req.host...)
		m = append(m, "\r\n"...)
	}
	if !req.fwdProto {
		m = append(m, "X-Forwarded-Proto: http\r\n"...)
	}
	m = append(m, "\r\n"...)
	c.msg = append(m, c.in[end:whole]...)
	l.upstream(c)
}

// upstream puts the request on c's upstream connection, or on a new one.
func (l *loop) upstream(c *lconn) {
	if c.ufd >= 0 && (c.stamp != l.f.gate.gen.Load() || c.outN > 0 || !idleOpenFd(c.ufd)) {
		l.dropUpstream(c)
	}
	c.wrote = 0
	if c.ufd >= 0 {
		c.phase = sending
		return
	}
	stamp := l.f.gate.gen.Load() // read before: a connection dialled across a resume is stale
	if l.f.gate.paused.Load() {
		stamp = -1 // for a request let in before a pause: to the generation about to stop, used once
	}
	fd, err := syscall.Socket(l.family, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err == nil {
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		err = syscall.Connect(fd, l.target)
		if err != nil && err != syscall.EINPROGRESS {
			syscall.Close(fd)
		} else if werr := l.watch(fd); werr != nil {
			syscall.Close(fd)
			err = werr
		} else {
			c.ufd, c.stamp, c.outN = fd, stamp, 0
			c.uReadable, c.uWritable = false, err == nil
			l.conns[fd] = c
			c.phase = connecting
			return
		}
	}
	l.dialFailed(c, err)
}

// dialFailed: refused, the relay holds the request until a generation accepts; otherwise 502.
func (l *loop) dialFailed(c *lconn, err error) {
	c.t.end()
	if errors.Is(err, syscall.ECONNREFUSED) {
		l.handOff(c, false)
		return
	}
	l.fail(c, 502, "no generation accepts: "+err.Error(), false)
	l.discardRequest(c)
	c.phase = waitRequest
}

func (l *loop) connected(c *lconn) bool {
	if !c.uWritable {
		return false
	}
	errno, err := syscall.GetsockoptInt(c.ufd, syscall.SOL_SOCKET, syscall.SO_ERROR)
	if err == nil && errno != 0 {
		err = syscall.Errno(errno)
	}
	if err != nil {
		l.dropUpstream(c)
		l.dialFailed(c, err)
		return true
	}
	c.phase = sending
	return true
}

func (l *loop) send(c *lconn) bool {
	if !c.uWritable {
		return false
	}
	n, err := writeFd(c.ufd, c.msg[c.wrote:])
	if err == syscall.EAGAIN {
		c.uWritable = false
		return false
	}
	if err != nil {
		wroteAny := c.wrote > 0
		l.dropUpstream(c)
		if !wroteAny && c.attempt < 2 {
			c.attempt++ // certain the upstream never received it: again, on a new connection
			l.upstream(c)
			return true
		}
		c.t.end()
		l.fail(c, 502, "the service did not take the request: "+err.Error(), true)
		return true
	}
	c.wrote += n
	if c.wrote < len(c.msg) {
		c.uWritable = false // a short write: the socket's buffer is full
		return false
	}
	l.discardRequest(c)
	c.phase = waitHead
	return true
}

func (l *loop) discardRequest(c *lconn) {
	copy(c.in, c.in[c.whole:c.inN])
	c.inN -= c.whole
	c.whole = 0
}

func (l *loop) readAnswerHead(c *lconn) bool {
	if c.outN > 0 {
		if end := headEnd(c.out[:c.outN]); end > 0 {
			var resp head
			if err := parseHead(c.out[:end], &resp); err != nil {
				l.noAnswer(c, err)
				return true
			}
			if resp.status < 200 || resp.chunked || (resp.length < 0 && !c.isHead && resp.status != 204 && resp.status != 304) {
				l.handOff(c, true) // 1xx, 101, chunked, delimited by close: the relay passes it
				return false
			}
			c.t.headCame()
			c.respClose = resp.close
			total := int64(end)
			if !c.isHead && resp.status != 204 && resp.status != 304 {
				total += resp.length
			}
			l.queueAnswer(c, total)
			c.phase = passBody
			return true
		}
		if c.outN == len(c.out) {
			l.noAnswer(c, errHeadTooLarge)
			return true
		}
	}
	moved, err := l.readUpstream(c)
	if err != nil {
		l.noAnswer(c, err)
		return true
	}
	return moved
}

// readUpstream reads what the upstream has into out (made at the first answer).
func (l *loop) readUpstream(c *lconn) (bool, error) {
	if c.out == nil {
		c.out = make([]byte, readBuffer)
	}
	return fill(c.ufd, c.out, &c.outN, &c.uReadable)
}

// fill reads what fd has into buf[*n:]. moved: bytes came; err: the peer ended (errEOF) or failed.
// A short read means the socket had no more: readable is cleared without a read that finds nothing.
func fill(fd int, buf []byte, n *int, readable *bool) (moved bool, err error) {
	if !*readable {
		return false, nil
	}
	got, err := readFd(fd, buf[*n:])
	if err == syscall.EAGAIN {
		*readable = false
		return false, nil
	}
	if err == nil && got == 0 {
		err = errEOF
	}
	if err != nil {
		return false, err
	}
	if got < len(buf)-*n {
		*readable = false
	}
	*n += got
	return true, nil
}

var errEOF = errors.New("EOF")

// noAnswer: the upstream ended or erred before the answer's head: 502, the client goes on.
func (l *loop) noAnswer(c *lconn, err error) {
	l.dropUpstream(c)
	c.t.end()
	l.fail(c, 502, "the service did not answer: "+err.Error(), false)
	c.phase = waitRequest
}

// queueAnswer passes on what out holds of the answer's remaining total bytes.
func (l *loop) queueAnswer(c *lconn, total int64) {
	take := int64(c.outN)
	if take > total {
		take = total
	}
	c.toClient, c.consumed, c.left = c.out[:take], int(take), total-take
}

func (l *loop) passBody(c *lconn) bool {
	if c.left == 0 {
		c.t.end()
		if c.reqClose || c.respClose {
			l.closeConn(c)
			return false
		}
		if c.outN > 0 || c.stamp != l.f.gate.gen.Load() {
			l.dropUpstream(c) // bytes past the answer; or a connection to a generation on its way out
		}
		c.phase = waitRequest
		return true
	}
	if c.outN > 0 {
		l.queueAnswer(c, c.left)
		return true
	}
	moved, err := l.readUpstream(c)
	if err != nil { // the answer is cut: so is the client's connection
		l.closeConn(c)
		return false
	}
	return moved
}

func (l *loop) flushClient(c *lconn) bool {
	for len(c.toClient) > 0 {
		if !c.cWritable {
			return false
		}
		n, err := writeFd(c.cfd, c.toClient)
		if err == syscall.EAGAIN {
			c.cWritable = false
			return false
		}
		if err != nil {
			l.closeConn(c)
			return false
		}
		c.toClient = c.toClient[n:]
		if len(c.toClient) > 0 {
			c.cWritable = false
		}
	}
	if c.consumed > 0 {
		copy(c.out, c.out[c.consumed:c.outN])
		c.outN -= c.consumed
		c.consumed = 0
	}
	if c.closeAfter {
		l.closeConn(c)
		return false
	}
	return true
}

// fail answers the client itself (502 and the like); closing: then ends its connection.
func (l *loop) fail(c *lconn, status int, why string, closing bool) {
	c.toClient, c.consumed = []byte(failAnswer(status, why, closing)), 0
	c.closeAfter = closing
}
