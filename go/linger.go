package hotgo

import (
	"context"
	"io"
	"net"
	"sync/atomic"
	"time"
)

// drainLinger bounds how long a connection answered with "Connection: close"
// during the drain waits for its client to close it.
const drainLinger = 500 * time.Millisecond

// lingerConn is an accepted TCP connection that, once a response on it said
// "Connection: close" during the drain, lets the client close first: Close
// reads until the client's FIN (or drainLinger) before closing. A client told
// to reconnect then never meets a closed connection, and the kernel shows the
// client ending it, which is how hotgo's drain report tells an orderly close
// from one that cuts a keep-alive client (a server-first close looks the same
// whether or not the last response said "Connection: close"). Embedding
// *net.TCPConn keeps ReadFrom (sendfile) and CloseWrite.
type lingerConn struct {
	*net.TCPConn
	told atomic.Bool // a response said "Connection: close" during the drain
}

func (c *lingerConn) Close() error {
	if c.told.Load() {
		_ = c.SetReadDeadline(time.Now().Add(drainLinger))
		_, _ = io.Copy(io.Discard, io.LimitReader(c.TCPConn, 64<<10))
	}
	return c.TCPConn.Close()
}

// lingerKey carries a request's *lingerConn in its context (http.Server.ConnContext).
type lingerKey struct{}

func withLingerConn(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*lingerConn); ok {
		return context.WithValue(ctx, lingerKey{}, lc)
	}
	return ctx
}

// toldToClose marks the request's connection: its response says "Connection: close".
func toldToClose(ctx context.Context) {
	if lc, ok := ctx.Value(lingerKey{}).(*lingerConn); ok {
		lc.told.Store(true)
	}
}

// lingering wraps TCP connections; others (unix sockets) are served as they are.
func lingering(c net.Conn) net.Conn {
	if tc, ok := c.(*net.TCPConn); ok {
		return &lingerConn{TCPConn: tc}
	}
	return c
}
