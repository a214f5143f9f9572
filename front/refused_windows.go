//go:build windows

package main

import (
	"errors"
	"syscall"
)

// WSAECONNREFUSED: Windows' own number for a refused connection.
func refusedOS(err error) bool { return errors.Is(err, syscall.Errno(10061)) }
