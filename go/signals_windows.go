//go:build windows

package hotgo

import (
	"os"
	"syscall"
)

// drainSignals start a graceful drain. hotgo sends CTRL_BREAK_EVENT, which Go
// reports as os.Interrupt; SIGTERM stands for the console close, logoff and
// shutdown events.
var drainSignals = []os.Signal{os.Interrupt, syscall.SIGTERM}

// reloadSignals is empty: Windows has no SIGHUP, use Server.ReloadHandler.
var reloadSignals []os.Signal

func isReloadSignal(os.Signal) bool { return false }
