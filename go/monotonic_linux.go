package hotgo

import (
	"syscall"
	"unsafe"
)

const clockMonotonic = 1 // CLOCK_MONOTONIC

// monotonicUsec returns CLOCK_MONOTONIC in microseconds.
func monotonicUsec() int64 {
	var ts syscall.Timespec
	if _, _, e := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockMonotonic, uintptr(unsafe.Pointer(&ts)), 0); e != 0 {
		return runtimeNano() / 1000
	}
	return ts.Nano() / 1000
}
