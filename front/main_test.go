package main

import (
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
	srv := httptest.NewServer(newFront(&url.URL{Scheme: "http", Host: addr}, hold, u))
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
	srv := httptest.NewServer(f)
	defer srv.Close()
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
