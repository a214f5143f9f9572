//go:build !linux

package main

import "net"

// serve: without epoll, a relay for every client connection.
func (f *front) serve(ln net.Listener) error { return f.serveRelays(ln) }
