//go:build linux && !mips && !mipsle && !mips64 && !mips64le

package hotgo

// soReusePort is SO_REUSEPORT, which package syscall does not define on
// every Linux architecture.
const soReusePort = 0xf
