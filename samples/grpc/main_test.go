package main

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"example.com/grpcsvc/greeter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// An open stream does not hold GracefulStop: endStreams ends it at the stop, with status OK.
func TestStreamsEndCleanlyAtTheStop(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	stopping, endAllStreams := context.WithCancel(context.Background())
	server := grpc.NewServer(grpc.StreamInterceptor(endStreams(stopping)))
	healthpb.RegisterHealthServer(server, health.NewServer())
	greeter.Register(server, greeter.Server{Version: "test", Interval: time.Hour})
	go server.Serve(ln)
	defer server.Stop()

	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	greetings, err := greeter.NewClient(conn).Greetings(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	watch, err := healthpb.NewHealthClient(conn).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := greetings.Recv(); err != nil { // the first greeting comes at once, the next in an hour
		t.Fatal(err)
	}
	if _, err := watch.Recv(); err != nil { // SERVING
		t.Fatal(err)
	}

	began := time.Now()
	drained := make(chan struct{})
	go func() {
		server.GracefulStop()
		close(drained)
	}()
	endAllStreams()
	for name, recv := range map[string]func() error{
		"Greetings":    func() error { _, err := greetings.Recv(); return err },
		"Health/Watch": func() error { _, err := watch.Recv(); return err },
	} {
		if err := recv(); !errors.Is(err, io.EOF) {
			t.Errorf("%s ended with %v, want io.EOF (status OK)", name, err)
		}
	}
	select {
	case <-drained:
		t.Logf("GracefulStop returned after %s", time.Since(began))
	case <-time.After(5 * time.Second):
		t.Fatal("GracefulStop still waiting after 5s")
	}
}
