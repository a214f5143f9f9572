//go:build unix

package hotgo

import (
	"errors"
	"syscall"
)

// reuseControl sets SO_REUSEPORT (and SO_REUSEADDR) on a socket before it is
// bound, so that two generations of a service can listen on one address.
func reuseControl(network, address string, c syscall.RawConn) error {
	if soReusePort == 0 {
		return errors.New("hotgo: SO_REUSEPORT is not supported on this platform")
	}
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_REUSEADDR, 1)
		if serr == nil {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, soReusePort, 1)
		}
	})
	if err != nil {
		return err
	}
	return serr
}
