// Command proxyapp answers what the browser proxy must pass through unchanged:
// request bodies, redirects, event streams, WebSocket frames, compressed pages.
// Standard library only; it takes hotgo's shared socket (fd 3) and says READY=1.
package main

import (
	"bufio"
	"compress/gzip"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// release lets the event stream's second event go once the test has seen the first.
var release = make(chan struct{}, 1)

func main() {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/echo", echo)
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/echo?from=redirect", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /events", events)
	mux.HandleFunc("POST /release", func(w http.ResponseWriter, r *http.Request) { release <- struct{}{} })
	mux.HandleFunc("GET /ws", websocketEcho)
	mux.HandleFunc("GET /gzpage", gzipPage)
	mux.HandleFunc("GET /fragment", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<li>an htmx fragment</li>")
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		<-stop
		srv.Close()
	}()
	if c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET")); err == nil {
		c.Write([]byte("READY=1"))
		c.Close()
	}
	srv.Serve(ln)
}

// echo answers 201 with what arrived: method, body, Host and the X-Forwarded-* headers.
func echo(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"method": r.Method, "query": r.URL.RawQuery, "body": body, "contentType": r.Header.Get("Content-Type"),
		"host": r.Host, "forwardedFor": r.Header.Get("X-Forwarded-For"),
		"forwardedHost": r.Header.Get("X-Forwarded-Host"), "forwardedProto": r.Header.Get("X-Forwarded-Proto"),
	})
}

func events(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	fmt.Fprint(w, "data: first\n\n")
	w.(http.Flusher).Flush()
	select {
	case <-release:
	case <-r.Context().Done():
		return
	}
	fmt.Fprint(w, "data: second\n\n")
}

func gzipPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Encoding", "gzip")
	z := gzip.NewWriter(w)
	io.WriteString(z, "<html><body><p>compressed</p></body></html>")
	z.Close()
}

// websocketEcho is a minimal RFC 6455 server: it sends every frame's payload back (unmasked).
func websocketEcho(w http.ResponseWriter, r *http.Request) {
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, rw, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	fmt.Fprintf(rw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Accept: %s\r\n\r\n", base64.StdEncoding.EncodeToString(sum[:]))
	rw.Flush()
	for {
		opcode, payload, err := readFrame(rw.Reader)
		if err != nil || opcode == 8 { // 8: close
			return
		}
		header := []byte{0x80 | opcode}
		switch n := len(payload); {
		case n < 126:
			header = append(header, byte(n))
		case n < 65536:
			header = append(header, 126, byte(n>>8), byte(n))
		default:
			header = append(header, 127)
			header = binary.BigEndian.AppendUint64(header, uint64(n))
		}
		rw.Write(append(header, payload...))
		rw.Flush()
	}
}

func readFrame(r *bufio.Reader) (byte, []byte, error) {
	var head [2]byte
	if _, err := io.ReadFull(r, head[:]); err != nil {
		return 0, nil, err
	}
	size := uint64(head[1] & 0x7f)
	switch size {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		size = uint64(binary.BigEndian.Uint16(ext[:]))
	case 127:
		var ext [8]byte
		if _, err := io.ReadFull(r, ext[:]); err != nil {
			return 0, nil, err
		}
		size = binary.BigEndian.Uint64(ext[:])
	}
	var mask [4]byte
	if head[1]&0x80 != 0 {
		if _, err := io.ReadFull(r, mask[:]); err != nil {
			return 0, nil, err
		}
	}
	payload := make([]byte, size)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return head[0] & 0x0f, payload, nil
}
