package main

import (
	"bufio"
	"bytes"
	"errors"
)

// The front door reads just enough of a message's head to know where the message ends
// (Content-Length, chunked, Connection, Upgrade, Expect) and copies the raw bytes: no header map,
// no re-serialising, nothing allocated per request.

var errHeadTooLarge = errors.New("message head larger than the read buffer")

// head is one parsed request or response head; raw points into the reader's buffer and stays
// valid until the reader is next read from.
type head struct {
	raw       []byte
	method    []byte // requests
	status    int    // responses
	http10    bool
	length    int64 // Content-Length, -1 if none
	chunked   bool
	close     bool // Connection: close (or HTTP/1.0 without keep-alive)
	keepAlive bool // Connection: keep-alive
	upgrade   bool // an Upgrade header (and Connection: upgrade)
	expect    bool // Expect: 100-continue
	fwdHost   bool // X-Forwarded-Host present
	fwdProto  bool // X-Forwarded-Proto present
	host      []byte
}

// readHead waits until r holds a whole head (up to its empty line) and parses it; the head is
// not consumed (the caller discards len(h.raw) once it has copied it).
func readHead(r *bufio.Reader, h *head) error {
	// Empty lines before a request line are ignored (RFC 9112 2.2).
	for {
		b, err := r.Peek(1)
		if err != nil {
			return err
		}
		if b[0] != '\r' && b[0] != '\n' {
			break
		}
		r.Discard(1)
	}
	for {
		buf, _ := r.Peek(r.Buffered())
		if end := headEnd(buf); end > 0 {
			return parseHead(buf[:end], h)
		}
		if r.Buffered() == r.Size() {
			return errHeadTooLarge
		}
		if _, err := r.Peek(r.Buffered() + 1); err != nil {
			return err
		}
	}
}

// headEnd: the length of the head in buf (through its empty line), 0 if buf has not all of it.
func headEnd(buf []byte) int {
	for i := 0; ; {
		j := bytes.IndexByte(buf[i:], '\n')
		if j < 0 {
			return 0
		}
		i += j + 1
		if i < len(buf) && buf[i] == '\n' {
			return i + 1
		}
		if i+1 < len(buf) && buf[i] == '\r' && buf[i+1] == '\n' {
			return i + 2
		}
		if i+1 >= len(buf) {
			return 0
		}
	}
}

func parseHead(raw []byte, h *head) error {
	*h = head{raw: raw, length: -1}
	line, rest := nextLine(raw)
	sp := bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errors.New("malformed first line")
	}
	if bytes.HasPrefix(line, []byte("HTTP/")) { // a status line
		h.http10 = bytes.Equal(line[:sp], []byte("HTTP/1.0"))
		code := line[sp+1:]
		if len(code) < 3 {
			return errors.New("malformed status line")
		}
		for _, c := range code[:3] {
			if c < '0' || c > '9' {
				return errors.New("malformed status code")
			}
			h.status = h.status*10 + int(c-'0')
		}
	} else {
		h.method = line[:sp]
		h.http10 = bytes.HasSuffix(line, []byte(" HTTP/1.0"))
	}
	for len(rest) > 0 {
		line, rest = nextLine(rest)
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name, value := line[:colon], bytes.TrimSpace(line[colon+1:])
		switch name[0] | 0x20 {
		case 'c':
			if bytes.EqualFold(name, []byte("Content-Length")) {
				n, ok := parseLength(value)
				if !ok || (h.length >= 0 && n != h.length) {
					return errors.New("bad Content-Length")
				}
				h.length = n
			} else if bytes.EqualFold(name, []byte("Connection")) {
				connectionTokens(value, h)
			}
		case 't':
			if bytes.EqualFold(name, []byte("Transfer-Encoding")) {
				h.chunked = hasToken(value, "chunked")
			}
		case 'u':
			if bytes.EqualFold(name, []byte("Upgrade")) {
				h.upgrade = true
			}
		case 'e':
			if bytes.EqualFold(name, []byte("Expect")) && bytes.EqualFold(value, []byte("100-continue")) {
				h.expect = true
			}
		case 'h':
			if bytes.EqualFold(name, []byte("Host")) {
				h.host = value
			}
		case 'x':
			if bytes.EqualFold(name, []byte("X-Forwarded-Host")) {
				h.fwdHost = true
			} else if bytes.EqualFold(name, []byte("X-Forwarded-Proto")) {
				h.fwdProto = true
			}
		}
	}
	if h.chunked {
		h.length = -1 // chunked wins over a length (RFC 9112 6.3)
	}
	if h.http10 && !h.keepAlive {
		h.close = true
	}
	return nil
}

func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return b, nil
	}
	line, rest = b[:i], b[i+1:]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, rest
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func connectionTokens(v []byte, h *head) {
	for len(v) > 0 {
		var token []byte
		if i := bytes.IndexByte(v, ','); i >= 0 {
			token, v = bytes.TrimSpace(v[:i]), v[i+1:]
		} else {
			token, v = bytes.TrimSpace(v), nil
		}
		switch {
		case bytes.EqualFold(token, []byte("close")):
			h.close = true
		case bytes.EqualFold(token, []byte("keep-alive")):
			h.keepAlive = true
		}
	}
}

func hasToken(v []byte, want string) bool {
	for _, token := range bytes.Split(v, []byte(",")) {
		if bytes.EqualFold(bytes.TrimSpace(token), []byte(want)) {
			return true
		}
	}
	return false
}
