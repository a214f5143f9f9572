package main

import (
	"bufio"
	"errors"
	"io"
)

// Bodies are copied as they are framed, raw (chunk lines and trailers included). Before the
// reader has to wait for more, what was copied is flushed: a streamed answer passes as it comes,
// a small one leaves in one write with its head.

// copyN copies n bytes from src to dst.
func copyN(dst *bufio.Writer, src *bufio.Reader, n int64) error {
	for n > 0 {
		if src.Buffered() == 0 {
			if err := dst.Flush(); err != nil {
				return err
			}
			if _, err := src.Peek(1); err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return err
			}
		}
		take := src.Buffered()
		if int64(take) > n {
			take = int(n)
		}
		b, _ := src.Peek(take)
		if _, err := dst.Write(b); err != nil {
			return err
		}
		src.Discard(take)
		n -= int64(take)
	}
	return nil
}

// copyLine copies one line (through its LF) and returns it as read.
func copyLine(dst *bufio.Writer, src *bufio.Reader) ([]byte, error) {
	if src.Buffered() == 0 {
		if err := dst.Flush(); err != nil {
			return nil, err
		}
	}
	line, err := src.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	_, err = dst.Write(line)
	return line, err
}

var errBadChunk = errors.New("malformed chunk size")

// copyChunked copies a chunked body through its last chunk and trailers.
func copyChunked(dst *bufio.Writer, src *bufio.Reader) error {
	for {
		line, err := copyLine(dst, src)
		if err != nil {
			return err
		}
		size, ok := chunkSize(line)
		if !ok {
			return errBadChunk
		}
		if size == 0 {
			break
		}
		if err := copyN(dst, src, size+2); err != nil { // the data and its CRLF
			return err
		}
	}
	for { // trailers, up to an empty line
		line, err := copyLine(dst, src)
		if err != nil {
			return err
		}
		if len(line) <= 2 && (line[0] == '\n' || line[0] == '\r') {
			return nil
		}
	}
}

func chunkSize(line []byte) (int64, bool) {
	var n int64
	digits := 0
	for _, c := range line {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return n, digits > 0 && digits <= 15 // ";ext", CRLF, spaces end the size
		}
		n = n<<4 | int64(d)
		digits++
	}
	return n, false
}
