//go:build solaris

package hotgo

// soReusePort is 0: reuseport mode is not supported.
const soReusePort = 0
