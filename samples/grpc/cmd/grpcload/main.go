// Command grpcload calls the sample's services until told to stop, and says how
// every call and every stream ended, across as many reloads as happen meanwhile:
//
//   - -callers goroutines make unary calls in a loop (Greeter.SayHello and
//     grpc.health.v1.Health/Check in turn) on -conns connections (one client
//     connection each, callers spread over them in turn), each call fail-fast
//     (grpc.WaitForReady(false), no retry policy: grpc's defaults) with a deadline;
//   - one goroutine holds a Greeter.Greetings stream and one a health Watch stream
//     (on the first connection);
//     when a stream ends it records the status code and opens the next one at once.
//
// It writes JSON lines on stdout: {"event":"version",...} the first time a version
// answers a unary call or a stream, and at the end {"event":"summary",...}. It stops
// when stdin is closed, on SIGTERM or SIGINT, or after -duration.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"
	"regexp"
	"sync"
	"syscall"
	"time"

	"example.com/grpcsvc/greeter"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

var versionOf = regexp.MustCompile(` from (\S+) \(pid`)

const (
	helloName  = "SayHello"
	checkName  = "Health/Check"
	streamName = "Greetings"
	watchName  = "Health/Watch"
)

// stats is what the summary says; every field is written under mu.
type stats struct {
	mu       sync.Mutex
	out      *json.Encoder
	start    time.Time
	Seconds  float64                   `json:"seconds"`
	Calls    map[string]map[string]int `json:"calls"`    // method -> status code -> count
	Failures []string                  `json:"failures"` // the first 20 failed calls, with their errors
	MaxCall  float64                   `json:"max_call_ms"`
	Streams  map[string]*streamStats   `json:"streams"`
	Versions map[string]int            `json:"versions"` // unary answers by version
}

type streamStats struct {
	Opened   int            `json:"opened"`
	Ended    map[string]int `json:"ended"`    // status code -> count (a stop of the client itself not counted)
	Errors   []string       `json:"errors"`   // the first 20 endings other than OK
	Messages int            `json:"messages"` // messages received
	Versions map[string]int `json:"versions"` // messages by the version that sent them
	Statuses map[string]int `json:"statuses,omitempty"`
	MaxGap   float64        `json:"max_gap_ms,omitempty"` // Greetings: longest time without a message, across reopenings
	Ends     []streamEnd    `json:"ends"`                 // the first 100 endings, in order
	last     time.Time
	current  streamEnd // the stream open now
}

// streamEnd is one stream's life: how it ended, how many messages it brought, from which version.
type streamEnd struct {
	Code     string `json:"code"`
	Messages int    `json:"messages"`
	Version  string `json:"version,omitempty"` // of its last message (Greetings)
}

func (s *stats) call(method string, took time.Duration, reply string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	code := status.Code(err)
	s.Calls[method][code.String()]++
	if ms := float64(took.Microseconds()) / 1000; ms > s.MaxCall {
		s.MaxCall = ms
	}
	if err != nil && len(s.Failures) < 20 {
		s.Failures = append(s.Failures, method+": "+err.Error())
	}
	if m := versionOf.FindStringSubmatch(reply); m != nil {
		s.seen(s.Versions, m[1], method)
	}
}

// seen counts a version, announcing it the first time (under mu).
func (s *stats) seen(versions map[string]int, version, by string) {
	if versions[version] == 0 {
		s.out.Encode(map[string]any{"event": "version", "version": version, "by": by,
			"seconds": time.Since(s.start).Seconds()})
	}
	versions[version]++
}

func (s *stats) message(name, version, healthStatus string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.Streams[name]
	now := time.Now()
	if !st.last.IsZero() && name == streamName { // a health Watch speaks only on a change
		if gap := float64(now.Sub(st.last).Microseconds()) / 1000; gap > st.MaxGap {
			st.MaxGap = gap
		}
	}
	st.last = now
	st.Messages++
	st.current.Messages++
	if version != "" {
		st.current.Version = version
		s.seen(st.Versions, version, name)
	}
	if healthStatus != "" {
		st.Statuses[healthStatus]++
	}
}

func (s *stats) streamEvent(name string, opened bool, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.Streams[name]
	if opened {
		st.Opened++
		st.current = streamEnd{}
		return
	}
	code := codes.OK
	if !errors.Is(err, io.EOF) {
		code = status.Code(err)
	}
	st.Ended[code.String()]++
	st.current.Code = code.String()
	if len(st.Ends) < 100 {
		st.Ends = append(st.Ends, st.current)
	}
	st.current = streamEnd{}
	if code != codes.OK && len(st.Errors) < 20 {
		st.Errors = append(st.Errors, err.Error())
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:50051", "the service's address")
	callers := flag.Int("callers", 4, "goroutines making unary calls")
	duration := flag.Duration("duration", 5*time.Minute, "stop after this long at the latest")
	timeout := flag.Duration("timeout", 5*time.Second, "deadline of each unary call")
	conns := flag.Int("conns", 1, "client connections the callers are spread over")
	flag.Parse()

	clients := make([]*grpc.ClientConn, max(*conns, 1))
	for i := range clients {
		c, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			log.Fatalf("client: %v", err)
		}
		defer c.Close()
		clients[i] = c
	}
	conn := clients[0]

	s := &stats{
		out: json.NewEncoder(os.Stdout), start: time.Now(), Failures: []string{}, Versions: map[string]int{},
		Calls:   map[string]map[string]int{helloName: {}, checkName: {}},
		Streams: map[string]*streamStats{},
	}
	for _, name := range []string{streamName, watchName} {
		s.Streams[name] = &streamStats{Ended: map[string]int{}, Errors: []string{}, Versions: map[string]int{}, Ends: []streamEnd{},
			Statuses: map[string]int{}}
	}

	ctx, stop := context.WithTimeout(context.Background(), *duration)
	defer stop()
	go func() { // stdin closed: stop
		io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	go func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
		<-signals
		stop()
	}()

	greeterClient := greeter.NewClient(conn)
	healthClient := healthpb.NewHealthClient(conn)
	failFast := grpc.WaitForReady(false)
	var wg sync.WaitGroup
	for i := 0; i < *callers; i++ {
		wg.Add(1)
		greeterClient, healthClient := greeter.NewClient(clients[i%len(clients)]), healthpb.NewHealthClient(clients[i%len(clients)])
		go func() {
			defer wg.Done()
			for n := 0; ctx.Err() == nil; n++ {
				// Each call has a context of its own: stopping the client never cancels one.
				call, cancel := context.WithTimeout(context.Background(), *timeout)
				began := time.Now()
				if n%2 == 0 {
					reply, err := greeterClient.SayHello(call, "grpcload", failFast)
					s.call(helloName, time.Since(began), reply, err)
				} else {
					_, err := healthClient.Check(call, &healthpb.HealthCheckRequest{}, failFast)
					s.call(checkName, time.Since(began), "", err)
				}
				cancel()
			}
		}()
	}
	wg.Add(2)
	go func() {
		defer wg.Done()
		hold(ctx, s, streamName, func() (func() error, error) {
			stream, err := greeterClient.Greetings(ctx, "grpcload", failFast)
			if err != nil {
				return nil, err
			}
			return func() error {
				msg, err := stream.Recv()
				if err == nil {
					version := ""
					if m := versionOf.FindStringSubmatch(msg.GetValue()); m != nil {
						version = m[1]
					}
					s.message(streamName, version, "")
				}
				return err
			}, nil
		})
	}()
	go func() {
		defer wg.Done()
		hold(ctx, s, watchName, func() (func() error, error) {
			stream, err := healthClient.Watch(ctx, &healthpb.HealthCheckRequest{}, failFast)
			if err != nil {
				return nil, err
			}
			return func() error {
				msg, err := stream.Recv()
				if err == nil {
					s.message(watchName, "", msg.GetStatus().String())
				}
				return err
			}, nil
		})
	}()
	<-ctx.Done()
	wg.Wait()

	s.mu.Lock()
	defer s.mu.Unlock()
	s.Seconds = time.Since(s.start).Seconds()
	s.out.Encode(map[string]any{"event": "summary", "summary": s})
}

// hold keeps a stream open until ctx ends: open, receive until it ends, record how, open again.
func hold(ctx context.Context, s *stats, name string, open func() (func() error, error)) {
	for ctx.Err() == nil {
		recv, err := open()
		if err == nil {
			s.streamEvent(name, true, nil)
			for err == nil {
				err = recv()
			}
		}
		if ctx.Err() != nil {
			return // the client's own stop ended it: not counted
		}
		s.streamEvent(name, false, err)
	}
}
