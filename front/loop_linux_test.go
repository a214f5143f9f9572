//go:build linux

package main

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The event loop's own exchanges (no hand-over to a relay): answers framed by a length or with
// no body, on one upstream connection, whatever the pace of either side.

func TestKeepAliveExchangesShareOneUpstreamConnection(t *testing.T) {
	up, dialled := countingUpstream(t, http.StateNew, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/empty" {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(r.Method)+1+len(body)))
		io.WriteString(w, r.Method+" "+string(body))
	})
	_, url := frontTo(t, upstreamOf(up), time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	for i := 0; i < 200; i++ {
		method, path, body, want := "GET", "/", "", "GET "
		switch i % 4 {
		case 1:
			method, body, want = "POST", "n="+strconv.Itoa(i), "POST n="+strconv.Itoa(i)
		case 2:
			method, want = "HEAD", ""
		case 3:
			path, want = "/empty", ""
		}
		req, _ := http.NewRequest(method, url+path, strings.NewReader(body))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != want {
			t.Fatalf("request %d (%s %s): %q, want %q", i, method, path, got, want)
		}
	}
	if n := dialled.Load(); n != 1 {
		t.Fatalf("%d upstream connections for one keep-alive client", n)
	}
}

func TestALargeAnswerReachesASlowReaderWhole(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef"), 512<<10) // 8 MiB: more than any socket buffer holds
	up, dialled := countingUpstream(t, http.StateNew, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		w.Write(big)
	})
	_, url := frontTo(t, upstreamOf(up), time.Second)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	reader := bufio.NewReaderSize(conn, 4096)
	for round := 0; round < 2; round++ { // the second on the same connections: the first ended cleanly
		io.WriteString(conn, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		resp, err := http.ReadResponse(reader, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got bytes.Buffer
		chunk := make([]byte, 64<<10)
		for reads := 0; ; reads++ {
			if reads%16 == 0 {
				time.Sleep(5 * time.Millisecond) // a reader slower than the service: the front door waits for it
			}
			n, err := resp.Body.Read(chunk)
			got.Write(chunk[:n])
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(got.Bytes(), big) {
			t.Fatalf("round %d: %d bytes, not the %d sent", round, got.Len(), len(big))
		}
	}
	if n := dialled.Load(); n != 1 {
		t.Fatalf("%d upstream connections", n)
	}
}

func TestARequestArrivingInPiecesGoesWhole(t *testing.T) {
	up, _ := countingUpstream(t, http.StateNew, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		io.WriteString(w, "got "+string(body))
	})
	_, url := frontTo(t, upstreamOf(up), time.Second)
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	pieces := []string{"POST /x HTTP/1.1\r\nHo", "st: x\r\nContent-Length: 10\r\n\r\n", "01234", "56789"}
	for _, piece := range pieces {
		io.WriteString(conn, piece)
		time.Sleep(20 * time.Millisecond) // each piece its own read
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "got 0123456789" {
		t.Fatalf("%q", body)
	}
}

func TestAHoldClosesTheLoopsIdleUpstreamConnectionsFirst(t *testing.T) {
	up, closed := countingUpstream(t, http.StateClosed, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	})
	f, url := frontTo(t, upstreamOf(up), time.Second)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	resp, err := client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadAll(resp.Body)
	resp.Body.Close()
	if left := f.gate.stop(&f.gate.asking, time.Second, 10*time.Second); left != 0 {
		t.Fatalf("%d requests left", left)
	}
	// The front door closed it before hold answered: the generation draining next cuts nothing.
	waitUntil(t, "the idle upstream connection closed", func() bool { return closed.Load() == 1 })
	f.gate.resume(-1)
	if resp, err = client.Get(url); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}
