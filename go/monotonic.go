package hotgo

import _ "unsafe" // for go:linkname

// runtimeNano is the runtime's monotonic clock (CLOCK_MONOTONIC on Linux,
// mach_absolute_time on Darwin).
//
//go:linkname runtimeNano runtime.nanotime
func runtimeNano() int64
