//go:build !unix

package hotgo

// takeFDs returns nothing: descriptors are not inherited on this platform.
func takeFDs(listenEnv) []*inheritedFD { return nil }
