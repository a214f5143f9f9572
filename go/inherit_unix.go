//go:build unix

package hotgo

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// takeFDs turns the announced descriptors into listeners. The original
// descriptors are closed (net.FileListener holds its own duplicate, which
// Go creates close-on-exec).
func takeFDs(env listenEnv) []*inheritedFD {
	out := make([]*inheritedFD, 0, env.n)
	for i := 0; i < env.n; i++ {
		fd := listenFDsStart + i
		rec := &inheritedFD{fd: fd, name: env.names[i]}
		syscall.CloseOnExec(fd)
		f := os.NewFile(uintptr(fd), env.names[i])
		if f == nil {
			rec.err = fmt.Errorf("hotgo: inherited fd %d (%s): invalid descriptor", fd, rec.name)
		} else {
			l, err := net.FileListener(f)
			f.Close()
			if err != nil {
				rec.err = fmt.Errorf("hotgo: inherited fd %d (%s): %w", fd, rec.name, err)
			} else {
				rec.l = l
			}
		}
		out = append(out, rec)
	}
	return out
}
