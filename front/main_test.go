package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
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

// frontTo serves a front door in front of addr, as main does; it returns its URL.
func frontTo(t *testing.T, addr string, hold time.Duration) (*front, string) {
	t.Helper()
	f := &front{gate: newGate(), target: addr, hold: hold}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go f.serve(ln)
	return f, "http://" + ln.Addr().String()
}

func upstreamOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

// countingUpstream is a service that counts its connections entering state (new, closed).
func countingUpstream(t *testing.T, state http.ConnState, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var count atomic.Int64
	up := httptest.NewUnstartedServer(handler)
	up.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == state {
			count.Add(1)
		}
	}
	up.Start()
	t.Cleanup(up.Close)
	return up, &count
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for start := time.Now(); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Since(start) > 5*time.Second {
			t.Fatal(what)
		}
	}
}

func TestARequestIsHeldUntilAServiceAccepts(t *testing.T) {
	addr := freeAddr(t)
	_, url := frontTo(t, addr, 5*time.Second)
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
	resp, err := http.Post(url, "text/plain", strings.NewReader("hello"))
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
				req, err := http.ReadRequest(bufio.NewReader(conn))
				if err == nil && req.Method == "POST" {
					handled.Add(1)
				}
			}()
		}
	}()
	_, url := frontTo(t, ln.Addr().String(), time.Second)
	resp, err := http.Post(url, "text/plain", strings.NewReader("once"))
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

func TestPauseWaitsForWholeAnswersAndHoldForTheirHeads(t *testing.T) {
	release := make(chan struct{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		<-release
		io.WriteString(w, "done")
	}))
	defer up.Close()
	f, url := frontTo(t, upstreamOf(up), 5*time.Second)
	done := make(chan string)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			done <- err.Error()
			return
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		done <- string(body)
	}()
	waitUntil(t, "the answer's head never came", func() bool { return f.gate.inflight.Load() == 1 && f.gate.asking.Load() == 0 })
	if left := f.gate.stop(&f.gate.asking, time.Second, 5*time.Second); left != 0 {
		t.Fatalf("hold: %d without their answer's head", left)
	}
	paused := make(chan int64)
	go func() { paused <- f.gate.stop(&f.gate.inflight, 5*time.Second, 5*time.Second) }()
	select {
	case <-paused:
		t.Fatal("pause returned with an answer under way")
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if left := <-paused; left != 0 {
		t.Fatalf("%d left in flight", left)
	}
	if body := <-done; body != "done" {
		t.Fatalf("answer %q", body)
	}
	f.gate.resume(-1)
}

func TestARequestWaitsWhilePausedAndGoesOnANewConnection(t *testing.T) {
	up, conns := countingUpstream(t, http.StateNew, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	f, url := frontTo(t, upstreamOf(up), 5*time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	get := func() string {
		resp, err := client.Get(url)
		if err != nil {
			return err.Error()
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(body)
	}
	if got := get(); got != "ok" {
		t.Fatal(got)
	}
	f.gate.stop(&f.gate.asking, time.Second, 5*time.Second)
	answered := make(chan string)
	go func() { answered <- get() }()
	select {
	case got := <-answered:
		t.Fatalf("answered while paused: %q", got)
	case <-time.After(100 * time.Millisecond):
	}
	f.gate.resume(-1)
	if got := <-answered; got != "ok" {
		t.Fatal(got)
	}
	if n := conns.Load(); n != 2 {
		t.Fatalf("%d upstream connections, want 2 (none reused across the hold)", n)
	}
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
	_, url := frontTo(t, upstreamOf(up), time.Second)
	resp, err := http.Get(url)
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

func TestBodiesHeadersAndMethodsPassOnAReusedConnection(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Seen", r.Header.Get("X-Forwarded-For")+"|"+r.Host+"|"+r.Header.Get("X-Forwarded-Proto"))
		io.WriteString(w, r.Method+" "+r.URL.RequestURI()+" "+string(body))
	}))
	defer up.Close()
	_, url := frontTo(t, upstreamOf(up), time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	big := strings.Repeat("x", 100<<10) // larger than the buffer: streamed
	cases := []struct {
		method string
		body   io.Reader
		want   string
	}{
		{"POST", strings.NewReader("payload"), "POST /a/b?c=d payload"},
		{"PUT", io.MultiReader(strings.NewReader("chun"), strings.NewReader("ked")), "PUT /a/b?c=d chunked"},
		{"POST", strings.NewReader(big), "POST /a/b?c=d " + big},
		{"HEAD", nil, ""},
		{"GET", nil, "GET /a/b?c=d "},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, url+"/a/b?c=d", c.body)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != c.want {
			t.Fatalf("%s: %.60q", c.method, body)
		}
		if seen := resp.Header.Get("X-Seen"); !strings.HasPrefix(seen, "127.0.0.1|127.0.0.1:") || !strings.HasSuffix(seen, "|http") {
			t.Fatalf("upstream saw %q", seen)
		}
	}
}

func TestAnUpgradedConnectionIsTunnelled(t *testing.T) {
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, _ := w.(http.Hijacker).Hijack()
		defer conn.Close()
		rw.WriteString("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
		rw.Flush()
		line, _ := rw.ReadString('\n')
		rw.WriteString("echo " + line)
		rw.Flush()
	}))
	defer up.Close()
	_, url := frontTo(t, upstreamOf(up), time.Second)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nhello\n")
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	got, _ := io.ReadAll(conn)
	if !strings.HasPrefix(string(got), "HTTP/1.1 101") || !strings.HasSuffix(string(got), "echo hello\n") {
		t.Fatalf("%q", got)
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
	_, url := frontTo(t, ln.Addr().String(), time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := 0; i < 3; i++ {
		resp, err := client.Post(url, "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		io.ReadAll(resp.Body) // read whole: the client connection is reused, and so its upstream one
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("request %d: status %d", i, resp.StatusCode)
		}
		waitUntil(t, "the upstream did not close", func() bool { return handled.Load() == int64(i+1) })
		time.Sleep(20 * time.Millisecond) // its FIN arrives
	}
	if got := handled.Load(); got != 3 {
		t.Fatalf("handled %d", got)
	}
}

func TestHeadParsing(t *testing.T) {
	var h head
	raw := []byte("HTTP/1.1 200 OK\r\ncontent-length: 12\r\nConnection: keep-alive, close\r\n\r\n")
	if err := parseHead(raw, &h); err != nil || h.status != 200 || h.length != 12 || !h.close {
		t.Fatalf("%+v %v", h, err)
	}
	raw = []byte("POST /x HTTP/1.0\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
	if err := parseHead(raw, &h); err != nil || !h.chunked || h.length != -1 || !h.close || !h.expect || string(h.method) != "POST" {
		t.Fatalf("%+v %v", h, err)
	}
	if err := parseHead([]byte("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"), &h); err == nil {
		t.Fatal("two lengths accepted")
	}
	for _, c := range []struct {
		in   string
		size int64
		ok   bool
	}{{"1a\r\n", 26, true}, {"0;ext=1\r\n", 0, true}, {"\r\n", 0, false}, {"zz\r\n", 0, false}} {
		if size, ok := chunkSize([]byte(c.in)); size != c.size || ok != c.ok {
			t.Fatalf("%q: %d %v", c.in, size, ok)
		}
	}
	if headEnd([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\nnext")) != 27 || headEnd([]byte("GET / HTTP/1.1\r\nHost: x\r\n")) != 0 {
		t.Fatal("headEnd")
	}
}
