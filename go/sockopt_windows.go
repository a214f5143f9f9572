//go:build windows

package hotgo

import "syscall"

// reuseControl sets SO_REUSEADDR on a socket before it is bound, so that two
// generations of a service can listen on one address.
func reuseControl(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
	})
	if err != nil {
		return err
	}
	return serr
}
