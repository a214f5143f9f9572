package hotgo

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for [Server] fields left zero.
const (
	DefaultGrace           = time.Second
	DefaultShutdownTimeout = 10 * time.Second
)

// ErrDraining is returned by [Server.RunReload] while the server drains.
var ErrDraining = errors.New("hotgo: server is draining")

// Server is an http.Server that cooperates with hotgo: it reports READY=1
// when it serves, drains gracefully on SIGTERM/SIGINT and runs a
// configuration reload hook on SIGHUP. See the package documentation for the
// exact sequences.
//
// Set the embedded http.Server's Handler (and any other field) as usual. A
// Server serves once: after [Server.Serve] returned it cannot be reused.
//
// Hijacked connections (WebSockets and the like) are not seen by the drain;
// use http.Server.RegisterOnShutdown to register a function that asks them
// to close. It is called when the drain calls http.Server.Shutdown, after
// the grace period.
type Server struct {
	// Server is the underlying HTTP server. If nil, Serve uses a zero
	// http.Server. If its Handler is nil, http.DefaultServeMux is used.
	// Serve wraps Handler and ConnState, so set them before calling Serve.
	*http.Server

	// Grace is how long after the drain has begun every HTTP/1 response
	// still carries "Connection: close", so that keep-alive clients
	// reconnect (to the new generation) after their current request. It
	// ends early when no connection is left. Zero means [DefaultGrace];
	// negative means no grace period.
	Grace time.Duration

	// ShutdownTimeout bounds http.Server.Shutdown at the end of the drain;
	// connections still open after it are closed. Zero means
	// [DefaultShutdownTimeout].
	ShutdownTimeout time.Duration

	// Reload is the optional configuration-reload hook, run on SIGHUP, by
	// [Server.ReloadHandler] and by [Server.RunReload]. It should load and
	// validate the new configuration and only apply it if it is valid;
	// a returned error is reported to hotgo and the service keeps running.
	Reload func() error

	initOnce  sync.Once
	mu        sync.Mutex // guards started, listeners
	started   bool
	listeners []*serveListener

	draining   atomic.Bool  // drain has begun
	closing    atomic.Bool  // listeners are closed: responses now carry "Connection: close"
	conns      atomic.Int64 // open (not hijacked) connections
	serveLoops atomic.Int64 // running http.Server.Serve calls

	drainOnce sync.Once
	drainDone chan struct{} // closed when the drain has finished
	drainErr  error         // valid after drainDone is closed
	forceOnce sync.Once
	force     chan struct{} // closed to cut the drain short

	reloadMu sync.Mutex
}

func (s *Server) init() {
	s.initOnce.Do(func() {
		if s.Server == nil {
			s.Server = &http.Server{}
		}
		s.drainDone = make(chan struct{})
		s.force = make(chan struct{})
	})
}

func (s *Server) grace() time.Duration {
	switch {
	case s.Grace == 0:
		return DefaultGrace
	case s.Grace < 0:
		return 0
	}
	return s.Grace
}

func (s *Server) shutdownTimeout() time.Duration {
	if s.ShutdownTimeout <= 0 {
		return DefaultShutdownTimeout
	}
	return s.ShutdownTimeout
}

func (s *Server) logf(format string, args ...any) {
	if s.Server != nil && s.Server.ErrorLog != nil {
		s.Server.ErrorLog.Printf("hotgo: "+format, args...)
		return
	}
	log.Printf("hotgo: "+format, args...)
}

// Draining reports whether the drain has begun.
func (s *Server) Draining() bool { return s.draining.Load() }

// Serve serves HTTP on all listeners ls (typically from [Listen]; with none,
// it listens on the Server's Addr, default ":http", through [Listen]). It
// sends READY=1 once every listener is being served, starts the drain on
// SIGTERM or SIGINT (os.Interrupt, which is CTRL_BREAK_EVENT on Windows),
// and runs the reload hook on SIGHUP (POSIX only).
//
// Serve returns nil after a clean drain, the drain's error if
// http.Server.Shutdown did not finish within ShutdownTimeout, the first
// error of a listener that failed (after closing the others), or
// http.ErrServerClosed if the embedded http.Server was shut down or closed
// directly.
func (s *Server) Serve(ls ...net.Listener) error {
	s.init()
	s.mu.Lock()
	if s.started {
		s.mu.Unlock()
		return errors.New("hotgo: Server.Serve called more than once")
	}
	s.started = true
	s.mu.Unlock()
	if s.draining.Load() {
		return http.ErrServerClosed
	}

	if len(ls) == 0 {
		addr := s.Addr
		if addr == "" {
			addr = ":http"
		}
		l, err := Listen("tcp", addr)
		if err != nil {
			return err
		}
		ls = []net.Listener{l}
	}

	// Catch the signals before READY=1 can be sent: hotgo may signal us as
	// soon as it has seen it.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, drainSignals...)
	if len(reloadSignals) > 0 {
		signal.Notify(sigs, reloadSignals...)
	}
	defer signal.Stop(sigs)

	h := s.Handler
	if h == nil {
		h = http.DefaultServeMux
	}
	s.Handler = s.wrapHandler(h, generationHeaderValue())
	userContext := s.ConnContext
	s.ConnContext = func(ctx context.Context, c net.Conn) context.Context {
		if userContext != nil {
			ctx = userContext(ctx, c)
		}
		return withLingerConn(ctx, c)
	}
	userState := s.ConnState
	s.ConnState = func(c net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
		case http.StateHijacked, http.StateClosed:
			s.conns.Add(-1)
		}
		if userState != nil {
			userState(c, st)
		}
	}

	rg := &readyGroup{ch: make(chan struct{})}
	rg.n.Store(int64(len(ls)))
	wrapped := make([]*serveListener, len(ls))
	for i, l := range ls {
		wrapped[i] = &serveListener{Listener: l, ready: rg}
	}

	errc := make(chan error, len(wrapped))
	s.mu.Lock()
	if s.draining.Load() {
		// Drain began before we could register the listeners.
		s.mu.Unlock()
		for _, l := range wrapped {
			l.Close()
		}
		return http.ErrServerClosed
	}
	s.listeners = wrapped
	s.serveLoops.Add(int64(len(wrapped)))
	for _, l := range wrapped {
		go func(l *serveListener) {
			err := s.Server.Serve(l)
			s.serveLoops.Add(-1)
			errc <- err
		}(l)
	}
	s.mu.Unlock()

	running := len(wrapped)
	readyc := rg.ch
	var serveErr error
	for {
		select {
		case <-readyc:
			readyc = nil
			if !s.draining.Load() {
				if err := Ready(); err != nil {
					s.logf("notify READY=1: %v", err)
				}
			}
		case sig := <-sigs:
			if isReloadSignal(sig) {
				go func() {
					if err := s.RunReload(); err != nil {
						s.logf("reload: %s", oneLine(err.Error()))
					}
				}()
			} else if !s.startDrain() {
				// Second SIGTERM/SIGINT: stop waiting for clients.
				s.abortDrain()
			}
		case err := <-errc:
			running--
			if !s.draining.Load() && serveErr == nil && !errors.Is(err, http.ErrServerClosed) {
				serveErr = err
				s.Server.Close()
			}
			if running == 0 && !s.draining.Load() {
				if serveErr != nil {
					return serveErr
				}
				return http.ErrServerClosed
			}
		case <-s.drainDone:
			for ; running > 0; running-- {
				<-errc
			}
			return s.drainErr
		}
	}
}

// Drain gracefully stops the server as SIGTERM would (see the package
// documentation) and waits until the drain has finished; Serve then returns.
// Calling it again, or while a signal-triggered drain runs, just waits for
// the same drain. If ctx ends first, all remaining connections are closed at
// once and ctx.Err() is returned.
func (s *Server) Drain(ctx context.Context) error {
	s.init()
	s.startDrain()
	select {
	case <-s.drainDone:
		return s.drainErr
	case <-ctx.Done():
		s.abortDrain()
		<-s.drainDone
		return ctx.Err()
	}
}

// startDrain starts the drain goroutine; it reports false if the drain had
// already been started.
func (s *Server) startDrain() bool {
	started := false
	s.drainOnce.Do(func() {
		started = true
		s.draining.Store(true)
		go s.drain()
	})
	return started
}

func (s *Server) abortDrain() {
	s.forceOnce.Do(func() { close(s.force) })
}

func (s *Server) drain() {
	defer close(s.drainDone)

	// 1. Announce and stop accepting. In inherit mode the socket itself
	// stays open in hotgo and the new generation.
	if err := Stopping(); err != nil {
		s.logf("notify STOPPING=1: %v", err)
	}
	s.mu.Lock()
	for _, l := range s.listeners {
		l.Close()
	}
	s.mu.Unlock()

	// Only once the sockets are really closed do clients get told to
	// reconnect. Go closes a listener's descriptor when its Accept returns,
	// a moment after Close; a reconnect in that moment could land in the old
	// SO_REUSEPORT socket's queue, and Linux resets what is queued there
	// when it closes (measured: ~0.7 failed requests per reload under wrk).
	deadline := time.Now().Add(250 * time.Millisecond)
	for s.serveLoops.Load() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	s.closing.Store(true)

	// 2. Grace period: responses carry "Connection: close" (see
	// wrapHandler) so keep-alive clients move over after their current
	// request. Over early once every connection is gone.
	if g := s.grace(); g > 0 {
		timer := time.NewTimer(g)
		tick := time.NewTicker(5 * time.Millisecond)
	grace:
		for {
			select {
			case <-timer.C:
				break grace
			case <-s.force:
				break grace
			case <-tick.C:
				if s.conns.Load() <= 0 && s.serveLoops.Load() == 0 {
					break grace
				}
			}
		}
		timer.Stop()
		tick.Stop()
	}

	// 3. Shutdown: closes idle connections, waits for active ones.
	ctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout())
	defer cancel()
	go func() {
		select {
		case <-s.force:
			cancel()
		case <-ctx.Done():
		}
	}()
	if err := s.Server.Shutdown(ctx); err != nil {
		s.Server.Close()
		s.drainErr = fmt.Errorf("hotgo: drain: %w", err)
	}
}

// wrapHandler adds the generation header to every response and, for
// HTTP/1 responses whose header is written while the server drains,
// "Connection: close" (including requests that were already running when
// the drain began).
func (s *Server) wrapHandler(h http.Handler, gen string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if gen != "" {
			w.Header().Set(GenerationHeader, gen)
		}
		if r.ProtoMajor != 1 {
			// HTTP/2 has no Connection header; Shutdown sends GOAWAY.
			h.ServeHTTP(w, r)
			return
		}
		h.ServeHTTP(&drainWriter{ResponseWriter: w, s: s, ctx: r.Context()}, r)
	})
}

// drainWriter sets "Connection: close" when the response header is written
// during the drain. It keeps the optional interfaces of net/http's HTTP/1
// response writer (Flusher, Hijacker, io.ReaderFrom, io.StringWriter) and
// supports http.ResponseController through Unwrap.
type drainWriter struct {
	http.ResponseWriter
	s       *Server
	ctx     context.Context // the request's: it carries the connection (see lingerConn)
	decided bool
}

func (w *drainWriter) beforeHeader() {
	if w.decided {
		return
	}
	w.decided = true
	if w.s.closing.Load() {
		w.ResponseWriter.Header().Set("Connection", "close")
		toldToClose(w.ctx)
	}
}

// Unwrap returns the underlying ResponseWriter, for http.ResponseController.
func (w *drainWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *drainWriter) WriteHeader(code int) {
	switch {
	case code == http.StatusSwitchingProtocols:
		w.decided = true
	case code >= 200:
		w.beforeHeader()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *drainWriter) Write(b []byte) (int, error) {
	w.beforeHeader()
	return w.ResponseWriter.Write(b)
}

func (w *drainWriter) WriteString(str string) (int, error) {
	w.beforeHeader()
	return io.WriteString(w.ResponseWriter, str)
}

func (w *drainWriter) ReadFrom(r io.Reader) (int64, error) {
	w.beforeHeader()
	if rf, ok := w.ResponseWriter.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{w.ResponseWriter}, r)
}

func (w *drainWriter) Flush() {
	w.beforeHeader()
	http.NewResponseController(w.ResponseWriter).Flush()
}

func (w *drainWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.decided = true
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// writerOnly hides ReadFrom to keep io.Copy from recursing.
type writerOnly struct{ io.Writer }

// readyGroup closes ch once n listeners have started accepting.
type readyGroup struct {
	n  atomic.Int64
	ch chan struct{}
}

func (g *readyGroup) done() {
	if g.n.Add(-1) == 0 {
		close(g.ch)
	}
}

// serveListener reports its first Accept to a readyGroup and makes Close
// idempotent (the drain and http.Server both close it).
type serveListener struct {
	net.Listener
	ready      *readyGroup
	acceptOnce sync.Once
	closeOnce  sync.Once
}

func (l *serveListener) Accept() (net.Conn, error) {
	l.acceptOnce.Do(l.ready.done)
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return lingering(c), nil
}

func (l *serveListener) Close() error {
	var err error
	l.closeOnce.Do(func() { err = l.Listener.Close() })
	return err
}

// ListenAndServe is the smallest adoption of hotgo: it listens on addr with
// [Listen] and serves h with a [Server] with default settings. Unlike
// http.ListenAndServe it returns nil after a clean drain.
func ListenAndServe(addr string, h http.Handler) error {
	l, err := Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &Server{Server: &http.Server{Addr: addr, Handler: h}}
	return srv.Serve(l)
}
