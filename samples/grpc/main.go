// Command grpcsvc is a gRPC service that hotgo hands off without failing a call:
// the standard health service (grpc.health.v1) and a Greeter with a unary and a
// server-streaming method (package greeter, no protoc needed).
//
// What makes a handoff clean is all in this file:
//   - the listener: fd 3 when hotgo (or systemd) passes one (LISTEN_FDS, LISTEN_PID),
//     else -addr;
//   - on SIGTERM (or Ctrl-C), GracefulStop: it closes this process's copy of the
//     listener and sends every client connection a GOAWAY, so clients open new
//     connections, which the next generation accepts on the shared socket; it waits
//     for the calls under way, and Stop ends what is left after -grace;
//   - open server streams end at the stop signal, with status OK (endStreams):
//     left open (-hold-streams), a stream holds GracefulStop until -grace.
//
// It sends no READY=1 on NOTIFY_SOCKET, on purpose: hotgo sees it accepting on the
// shared socket (Linux /proc), as it does for an HTTP service that never notifies.
// tests/e2e/test_grpc.py reloads it ten times under calls and a held stream.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"example.com/grpcsvc/greeter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

const version = "v1"

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "address to listen on when no socket is passed (LISTEN_FDS)")
	grace := flag.Duration("grace", 5*time.Second, "how long GracefulStop may wait for calls under way before Stop")
	holdStreams := flag.Bool("hold-streams", false, "leave open server streams open at the stop signal (they then hold GracefulStop until -grace)")
	flag.Parse()
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)

	stopping, endAllStreams := context.WithCancel(context.Background())
	server := grpc.NewServer(grpc.StreamInterceptor(endStreams(stopping)))
	// Every service stays SERVING until the process exits: behind hotgo the address
	// keeps serving across a handoff, and a client-side health check that saw
	// NOT_SERVING from the old process would fail calls the next one can answer.
	healthServer := health.NewServer()
	healthServer.SetServingStatus(greeter.ServiceName, healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(server, healthServer)
	greeter.Register(server, greeter.Server{Version: version})

	// The listener comes last: Go puts it in its epoll set when it is made, which is
	// when hotgo sees this process accepting and counts it as ready.
	ln, how, err := listen(*addr)
	if err != nil {
		log.Fatalf("listen: %v", err)
	}
	log.Printf("grpcsvc %s pid=%d serving on %s (%s)", version, os.Getpid(), ln.Addr(), how)

	stopped := make(chan struct{})
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
		sig := <-signals
		start := time.Now()
		drained := make(chan struct{})
		go func() {
			server.GracefulStop()
			close(drained)
		}()
		if !*holdStreams {
			endAllStreams()
		}
		select {
		case <-drained:
			log.Printf("grpcsvc %s pid=%d: %s, drained in %s", version, os.Getpid(), sig, time.Since(start).Round(time.Millisecond))
		case <-time.After(*grace):
			log.Printf("grpcsvc %s pid=%d: %s, calls still open after %s: stopping them", version, os.Getpid(), sig, *grace)
			server.Stop()
		}
		close(stopped)
	}()
	if err := server.Serve(ln); err != nil {
		log.Fatalf("serve: %v", err)
	}
	<-stopped // Serve returns as soon as a stop begins; the drain ends here
}

// listen takes the first socket passed as systemd does (hotgo's --listen), or binds addr.
func listen(addr string) (net.Listener, string, error) {
	if n, _ := strconv.Atoi(os.Getenv("LISTEN_FDS")); n >= 1 && os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
		for _, name := range []string{"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"} {
			os.Unsetenv(name) // not for the processes this one starts
		}
		file := os.NewFile(3, "LISTEN_FD_3")
		defer file.Close() // the listener holds a duplicate
		ln, err := net.FileListener(file)
		if err != nil {
			return nil, "", fmt.Errorf("fd 3 passed by LISTEN_FDS: %w", err)
		}
		return ln, "fd 3 from LISTEN_FDS", nil
	}
	ln, err := net.Listen("tcp", addr)
	return ln, "bound -addr", err
}

// endStreams gives every server stream a context that is also cancelled once
// stopping is, so a handler that returns when its context is done (Greetings, the
// health service's Watch) ends its stream at the stop signal. Such a stream ends
// with status OK: its client sees a clean end of stream and opens the next one,
// which GracefulStop's GOAWAY sends over a new connection to the next generation.
func endStreams(stopping context.Context) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx, cancel := context.WithCancel(ss.Context())
		defer cancel()
		defer context.AfterFunc(stopping, cancel)()
		err := handler(srv, &stream{ServerStream: ss, ctx: ctx})
		endedByStop := stopping.Err() != nil && ss.Context().Err() == nil
		if err != nil && endedByStop && (errors.Is(err, context.Canceled) || status.Code(err) == codes.Canceled) {
			return nil
		}
		return err
	}
}

type stream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *stream) Context() context.Context { return s.ctx }
