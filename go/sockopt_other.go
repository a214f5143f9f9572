//go:build !unix && !windows

package hotgo

import "syscall"

// reuseControl does nothing on this platform.
func reuseControl(network, address string, c syscall.RawConn) error { return nil }
