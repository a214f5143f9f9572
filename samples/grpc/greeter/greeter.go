// Package greeter is a small gRPC service written without protoc: the code
// protoc-gen-go-grpc would generate for this .proto, by hand, with protobuf's
// well-known StringValue as its messages:
//
//	syntax = "proto3";
//	package greeter;
//	import "google/protobuf/wrappers.proto";
//
//	service Greeter {
//	  // "hello NAME from VERSION (pid N)"
//	  rpc SayHello(google.protobuf.StringValue) returns (google.protobuf.StringValue);
//	  // the same greeting, numbered, every interval until the client hangs up or the server stops
//	  rpc Greetings(google.protobuf.StringValue) returns (stream google.protobuf.StringValue);
//	}
package greeter

import (
	"context"
	"fmt"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/wrapperspb"
)

// The names clients and interceptors see.
const (
	ServiceName     = "greeter.Greeter"
	SayHelloMethod  = "/greeter.Greeter/SayHello"
	GreetingsMethod = "/greeter.Greeter/Greetings"
)

// Server answers with its Version, so that a client sees which build served it.
type Server struct {
	Version  string
	Interval time.Duration // between two Greetings messages; 100ms when zero
}

func (s Server) greeting(name string) string {
	return fmt.Sprintf("hello %s from %s (pid %d)", name, s.Version, os.Getpid())
}

// SayHello is the unary call.
func (s Server) SayHello(_ context.Context, name *wrapperspb.StringValue) (*wrapperspb.StringValue, error) {
	return wrapperspb.String(s.greeting(name.GetValue())), nil
}

// Greetings is the server stream: it ends when its context does (the client
// hung up, or the server ends its streams as it stops), with that context's error.
func (s Server) Greetings(name *wrapperspb.StringValue, stream grpc.ServerStreamingServer[wrapperspb.StringValue]) error {
	interval := s.Interval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for n := 1; ; n++ {
		if err := stream.Send(wrapperspb.String(fmt.Sprintf("%s, greeting %d", s.greeting(name.GetValue()), n))); err != nil {
			return err
		}
		select {
		case <-ticker.C:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

// GreeterServer is what Register serves.
type GreeterServer interface {
	SayHello(context.Context, *wrapperspb.StringValue) (*wrapperspb.StringValue, error)
	Greetings(*wrapperspb.StringValue, grpc.ServerStreamingServer[wrapperspb.StringValue]) error
}

// Register adds the Greeter service to a grpc.Server.
func Register(server grpc.ServiceRegistrar, impl GreeterServer) {
	server.RegisterService(&serviceDesc, impl)
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: ServiceName,
	HandlerType: (*GreeterServer)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "SayHello",
		Handler: func(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
			in := new(wrapperspb.StringValue)
			if err := dec(in); err != nil {
				return nil, err
			}
			call := func(ctx context.Context, req any) (any, error) {
				return srv.(GreeterServer).SayHello(ctx, req.(*wrapperspb.StringValue))
			}
			if interceptor == nil {
				return call(ctx, in)
			}
			return interceptor(ctx, in, &grpc.UnaryServerInfo{Server: srv, FullMethod: SayHelloMethod}, call)
		},
	}},
	Streams: []grpc.StreamDesc{{
		StreamName:    "Greetings",
		ServerStreams: true,
		Handler: func(srv any, stream grpc.ServerStream) error {
			in := new(wrapperspb.StringValue)
			if err := stream.RecvMsg(in); err != nil {
				return err
			}
			return srv.(GreeterServer).Greetings(in, &grpc.GenericServerStream[wrapperspb.StringValue, wrapperspb.StringValue]{ServerStream: stream})
		},
	}},
	Metadata: "greeter.proto",
}

// Client calls a Greeter over a connection.
type Client struct{ cc grpc.ClientConnInterface }

// NewClient returns a Greeter client on cc.
func NewClient(cc grpc.ClientConnInterface) Client { return Client{cc} }

// SayHello makes the unary call.
func (c Client) SayHello(ctx context.Context, name string, opts ...grpc.CallOption) (string, error) {
	out := new(wrapperspb.StringValue)
	err := c.cc.Invoke(ctx, SayHelloMethod, wrapperspb.String(name), out, opts...)
	return out.GetValue(), err
}

// Greetings opens the server stream.
func (c Client) Greetings(ctx context.Context, name string, opts ...grpc.CallOption) (grpc.ServerStreamingClient[wrapperspb.StringValue], error) {
	stream, err := c.cc.NewStream(ctx, &serviceDesc.Streams[0], GreetingsMethod, opts...)
	if err != nil {
		return nil, err
	}
	x := &grpc.GenericClientStream[wrapperspb.StringValue, wrapperspb.StringValue]{ClientStream: stream}
	if err := x.ClientStream.SendMsg(wrapperspb.String(name)); err != nil {
		return nil, err
	}
	if err := x.ClientStream.CloseSend(); err != nil {
		return nil, err
	}
	return x, nil
}
