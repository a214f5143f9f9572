//go:build linux

package main

import (
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"
	"time"
)

// The event loop: one thread, epoll (edge-triggered), non-blocking sockets. It serves the common
// exchange, a request whole in its buffer (no chunked body, no Expect, no Upgrade) answered with
// a length or without a body, in a read and a write each way and no goroutine switch: on a
// 2-core machine a relay's goroutine wake-ups cost as much CPU as the service. Anything else
// goes to a relay with the bytes already read, and stays there: a request the loop does not take
// (the relay answers 431 or 400 too), a dial that is refused (the relay holds the request until a
// generation accepts), an answer that is chunked, delimited by the upstream closing, 1xx or an
// upgrade. The guarantees are the relay's: the gate counts the loop's requests, a paused gate
// parks them, an upstream connection is peeked at before reuse, and a request is sent again only
// when not one byte of it was written.

type loop struct {
	f          *front
	ep         int
	lfd        int
	wakeR      int // a pipe: another goroutine has work for the loop
	wakeW      int
	target     syscall.Sockaddr
	family     int
	conns      map[int]*lconn // by client and upstream fd
	parkedList []*lconn
	events     []syscall.EpollEvent

	mu    sync.Mutex
	asked []loopAsk
}

type loopAsk struct {
	gen  int64
	done chan struct{}
}

// serve runs the event loop on ln; where it cannot be set up, a relay for every connection.
func (f *front) serve(ln net.Listener) error {
	l, err := newLoop(f, ln)
	if err != nil {
		return f.serveRelays(ln)
	}
	f.gate.add(l)
	return l.run()
}

func newLoop(f *front, ln net.Listener) (*loop, error) {
	tcp, ok := ln.(*net.TCPListener)
	if !ok {
		return nil, errors.New("not a TCP listener")
	}
	addr, err := net.ResolveTCPAddr("tcp", f.target)
	if err != nil {
		return nil, err
	}
	l := &loop{f: f, conns: map[int]*lconn{}, events: make([]syscall.EpollEvent, 128), family: syscall.AF_INET}
	if ip4 := addr.IP.To4(); ip4 != nil || addr.IP == nil {
		sa := &syscall.SockaddrInet4{Port: addr.Port}
		copy(sa.Addr[:], ip4)
		l.target = sa
	} else {
		sa := &syscall.SockaddrInet6{Port: addr.Port}
		copy(sa.Addr[:], addr.IP.To16())
		l.target, l.family = sa, syscall.AF_INET6
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return nil, err
	}
	l.lfd = -1
	if cerr := raw.Control(func(fd uintptr) { l.lfd, err = syscall.Dup(int(fd)) }); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		return nil, err
	}
	syscall.CloseOnExec(l.lfd)
	if l.ep, err = syscall.EpollCreate1(syscall.EPOLL_CLOEXEC); err != nil {
		syscall.Close(l.lfd)
		return nil, err
	}
	var pipe [2]int
	if err = syscall.Pipe2(pipe[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(l.lfd)
		syscall.Close(l.ep)
		return nil, err
	}
	l.wakeR, l.wakeW = pipe[0], pipe[1]
	if err = l.watch(l.lfd); err == nil {
		err = l.watch(l.wakeR)
	}
	if err != nil {
		for _, fd := range []int{l.lfd, l.ep, l.wakeR, l.wakeW} {
			syscall.Close(fd)
		}
		return nil, err
	}
	return l, nil
}

func (l *loop) watch(fd int) error {
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | -syscall.EPOLLET, Fd: int32(fd)}
	return syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_ADD, fd, &ev)
}

func (l *loop) run() error {
	runtime.LockOSThread()
	for {
		n, err := syscall.EpollWait(l.ep, l.events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			return err
		}
		for _, ev := range l.events[:n] {
			fd := int(ev.Fd)
			switch fd {
			case l.lfd:
				l.accept()
				continue
			case l.wakeR:
				l.woken()
				continue
			}
			c := l.conns[fd]
			if c == nil {
				continue
			}
			in := ev.Events&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
			out := ev.Events&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
			if fd == c.cfd {
				c.cReadable, c.cWritable = c.cReadable || in, c.cWritable || out
			} else {
				c.uReadable, c.uWritable = c.uReadable || in, c.uWritable || out
			}
			l.step(c)
		}
	}
}

func (l *loop) accept() {
	for {
		fd, sa, err := syscall.Accept4(l.lfd, syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
		if err != nil {
			if err == syscall.EINTR || err == syscall.ECONNABORTED {
				continue
			}
			return // EAGAIN; EMFILE and the like: the next connection tries again
		}
		syscall.SetsockoptInt(fd, syscall.IPPROTO_TCP, syscall.TCP_NODELAY, 1)
		c := &lconn{cfd: fd, ufd: -1, in: make([]byte, readBuffer), cWritable: true}
		switch a := sa.(type) {
		case *syscall.SockaddrInet4:
			c.fwd = []byte("X-Forwarded-For: " + net.IP(a.Addr[:]).String() + "\r\n")
		case *syscall.SockaddrInet6:
			c.fwd = []byte("X-Forwarded-For: " + net.IP(a.Addr[:]).String() + "\r\n")
		}
		if l.watch(fd) != nil {
			syscall.Close(fd)
			continue
		}
		l.conns[fd] = c
		c.cReadable = true // what came with the connection
		l.step(c)
	}
}

// closeIfIdle (the gate, from another goroutine): the loop closes its stale idle upstream
// connections and lets parked requests go if the gate is open; this waits until it has.
func (l *loop) closeIfIdle(gen int64) {
	done := make(chan struct{})
	l.mu.Lock()
	l.asked = append(l.asked, loopAsk{gen, done})
	l.mu.Unlock()
	syscall.Write(l.wakeW, []byte{1})
	select {
	case <-done:
	case <-time.After(time.Second):
	}
}

func (l *loop) woken() {
	var buf [64]byte
	for {
		if n, _ := syscall.Read(l.wakeR, buf[:]); n <= 0 {
			break
		}
	}
	l.mu.Lock()
	asked := l.asked
	l.asked = nil
	l.mu.Unlock()
	for _, ask := range asked {
		for fd, c := range l.conns {
			if fd == c.cfd && c.ufd >= 0 && c.stamp != ask.gen && (c.phase == waitRequest || c.phase == parked) {
				l.dropUpstream(c)
			}
		}
	}
	waiting := l.parkedList
	l.parkedList = nil
	for _, c := range waiting {
		if c.cfd >= 0 && c.phase == parked {
			c.phase = waitRequest
			l.step(c)
		}
	}
	for _, ask := range asked {
		close(ask.done)
	}
}

// step moves c on as far as its sockets allow.
func (l *loop) step(c *lconn) {
	for c.cfd >= 0 {
		if len(c.toClient) > 0 || c.closeAfter {
			if !l.flushClient(c) {
				return
			}
			continue
		}
		var moved bool
		switch c.phase {
		case waitRequest:
			moved = l.readRequest(c)
		case parked:
			return
		case connecting:
			moved = l.connected(c)
		case sending:
			moved = l.send(c)
		case waitHead:
			moved = l.readAnswerHead(c)
		case passBody:
			moved = l.passBody(c)
		}
		if !moved {
			return
		}
	}
}

func (l *loop) dropUpstream(c *lconn) {
	if c.ufd >= 0 {
		delete(l.conns, c.ufd)
		syscall.Close(c.ufd)
		c.ufd, c.outN, c.consumed = -1, 0, 0
	}
}

func (l *loop) closeConn(c *lconn) {
	if c.phase != waitRequest && c.phase != parked {
		c.t.end()
	}
	l.dropUpstream(c)
	delete(l.conns, c.cfd)
	syscall.Close(c.cfd)
	c.cfd = -1
}

// handOff gives c to a relay with what was read: before its request was sent (midAnswer false),
// or once it was and the answer is one the loop does not pass (midAnswer true).
func (l *loop) handOff(c *lconn, midAnswer bool) {
	client, err := l.connOf(c.cfd)
	delete(l.conns, c.cfd)
	c.cfd = -1
	if err != nil {
		if midAnswer {
			c.t.end()
		}
		l.dropUpstream(c)
		return
	}
	r := newRelay(l.f, client, append([]byte(nil), c.in[:c.inN]...))
	if !midAnswer {
		l.dropUpstream(c)
		go r.serve(nil)
		return
	}
	up, err := l.connOf(c.ufd)
	delete(l.conns, c.ufd)
	c.ufd = -1
	if err != nil {
		c.t.end()
		client.Close()
		return
	}
	read, t, stamp := append([]byte(nil), c.out[:c.outN]...), c.t, c.stamp
	isHead, reqClose := c.isHead, c.reqClose
	go r.serve(func() bool { return r.handedOver(up, stamp, read, &t, false, isHead, reqClose) })
}

// connOf makes fd a net.Conn: out of the loop's epoll set first (the copy net.FileConn makes
// shares the socket, and closing fd alone would leave the socket watched), then copied, then closed.
func (l *loop) connOf(fd int) (net.Conn, error) {
	syscall.EpollCtl(l.ep, syscall.EPOLL_CTL_DEL, fd, nil)
	file := os.NewFile(uintptr(fd), "")
	defer file.Close()
	return net.FileConn(file)
}

func readFd(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Read(fd, b)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

func writeFd(fd int, b []byte) (int, error) {
	for {
		n, err := syscall.Write(fd, b)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// idleOpenFd peeks without waiting: EAGAIN means open, and nothing unasked for came.
func idleOpenFd(fd int) bool {
	var buf [1]byte
	_, _, err := syscall.Recvfrom(fd, buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err == syscall.EAGAIN
}
