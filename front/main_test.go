package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func frontTo(t *testing.T, addr string, hold time.Duration) *httptest.Server {
	t.Helper()
	u := &upstream{hold: hold}
	u.renew(0)
	return serveFront(t, newFront(&url.URL{Scheme: "http", Host: addr}, hold, u))
}

// serveFront serves f as main does: each client connection with its pinned upstream connection.
func serveFront(t *testing.T, f *front) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(f)
	srv.Config.ConnContext = f.connContext
	srv.Config.ConnState = f.connState
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

func TestARequestIsHeldUntilAServiceAccepts(t *testing.T) {
	addr := freeAddr(t)
	srv := frontTo(t, addr, 5*time.Second)
	go func() {
		time.Sleep(200 * time.Millisecond)
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return
		}
		http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			io.WriteString(w, "got "+string(body))
		}))
	}()
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "got hello" {
		t.Fatalf("status %d, %q", resp.StatusCode, body)
	}
}

func TestAReceivedPostIsNeverSentTwice(t *testing.T) {
	var handled atomic.Int64
	// The upstream reads the whole request, counts it, and hangs up without answering.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				buf := make([]byte, 4096)
				n, _ := conn.Read(buf)
				if strings.Contains(string(buf[:n]), "POST") {
					handled.Add(1)
				}
			}()
		}
	}()
	srv := frontTo(t, ln.Addr().String(), time.Second)
	resp, err := http.Post(srv.URL, "text/plain", strings.NewReader("once"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502", resp.StatusCode)
	}
	if got := handled.Load(); got != 1 {
		t.Fatalf("the upstream received the POST %d times", got)
	}
}

func TestPauseWaitsForRequestsInFlight(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-release
		io.WriteString(w, "done")
	}))
	defer up.Close()
	u := &upstream{hold: 5 * time.Second}
	u.renew(0)
	f := newFront(&url.URL{Scheme: "http", Host: strings.TrimPrefix(up.URL, "http://")}, time.Second, u)
	srv := serveFront(t, f)
	done := make(chan int)
	go func() {
		resp, err := http.Get(srv.URL)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		f.gate.mu.Lock()
		n := f.gate.inflight
		f.gate.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Since(start) > 5*time.Second {
			t.Fatal("the request never got in flight")
		}
	}
	paused := make(chan int)
	go func() { paused <- f.gate.pause(5 * time.Second) }()
	select {
	case <-paused:
		t.Fatal("pause returned with a request in flight")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if left := <-paused; left != 0 {
		t.Fatalf("%d left in flight", left)
	}
	if code := <-done; code != 200 {
		t.Fatalf("status %d", code)
	}
	f.gate.resumeIf(-1)
}

func TestAStreamedAnswerPassesAsItComes(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: first\n\n")
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "data: second\n\n")
	}))
	defer up.Close()
	defer close(release)
	srv := frontTo(t, strings.TrimPrefix(up.URL, "http://"), time.Second)
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	done := make(chan string, 1)
	go func() {
		n, _ := resp.Body.Read(buf)
		done <- string(buf[:n])
	}()
	select {
	case got := <-done:
		if !strings.Contains(got, "first") {
			t.Fatalf("first read %q", got)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the first event did not come before the answer ended")
	}
}

func TestAPostThroughThePinnedConnectionKeepsItsBodyAndHeaders(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Header.Get("X-Forwarded-For")+"|"+r.Host+"|"+r.Header.Get("Connection"))
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	}))
	defer up.Close()
	srv := frontTo(t, strings.TrimPrefix(up.URL, "http://"), time.Second)
	for i := 0; i < 3; i++ { // one client connection, one upstream connection, reused
		resp, err := http.Post(srv.URL+"/a/b?c=d", "text/plain", strings.NewReader("payload"))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "POST /a/b?c=d payload" {
			t.Fatalf("%q", body)
		}
		if seen := resp.Header.Get("X-Seen"); !strings.HasPrefix(seen, "127.0.0.1|127.0.0.1:") || !strings.HasSuffix(seen, "|") {
			t.Fatalf("upstream saw %q", seen)
		}
	}
}

func TestAnIdleConnectionTheUpstreamClosedIsNotUsed(t *testing.T) {
	var handled atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // answers one request per connection, then closes it without saying so
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err != nil {
					return
				}
				io.Copy(io.Discard, req.Body)
				handled.Add(1)
				io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
			}()
		}
	}()
	srv := frontTo(t, ln.Addr().String(), time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := 0; i < 3; i++ {
		resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body) // read whole: the client connection is reused, and so its pinned one
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		time.Sleep(20 * time.Millisecond) // the upstream's FIN arrives
	}
	if got := handled.Load(); got != 3 {
		t.Fatalf("handled %d", got)
	}
}
