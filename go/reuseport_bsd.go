//go:build aix || darwin || dragonfly || freebsd || netbsd || openbsd || (linux && (mips || mipsle || mips64 || mips64le))

package hotgo

import "syscall"

const soReusePort = syscall.SO_REUSEPORT
