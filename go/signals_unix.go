//go:build unix

package hotgo

import (
	"os"
	"syscall"
)

// drainSignals start a graceful drain.
var drainSignals = []os.Signal{syscall.SIGTERM, os.Interrupt}

// reloadSignals run the reload hook.
var reloadSignals = []os.Signal{syscall.SIGHUP}

func isReloadSignal(s os.Signal) bool { return s == syscall.SIGHUP }
