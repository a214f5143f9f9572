//go:build !unix && !windows

package hotgo

import "os"

var drainSignals = []os.Signal{os.Interrupt}

var reloadSignals []os.Signal

func isReloadSignal(os.Signal) bool { return false }
