//go:build !linux

package hotgo

// monotonicUsec returns the runtime's monotonic clock in microseconds.
func monotonicUsec() int64 { return runtimeNano() / 1000 }
