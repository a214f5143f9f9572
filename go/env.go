package hotgo

import (
	"os"
	"strconv"
	"strings"
)

// Environment variables of the hotgo protocol.
const (
	EnvListenFDs     = "LISTEN_FDS"
	EnvListenPID     = "LISTEN_PID"
	EnvListenFDNames = "LISTEN_FDNAMES"
	EnvNotifySocket  = "NOTIFY_SOCKET"
	EnvGeneration    = "HOTGO_GENERATION"
	EnvListen        = "HOTGO_LISTEN"
	EnvPort          = "PORT"
)

// GenerationHeader is the response header that carries HOTGO_GENERATION.
const GenerationHeader = "X-Hotgo-Generation"

// Generation returns the generation number hotgo gave this process in
// HOTGO_GENERATION, or 0 when it is unset or not an integer.
func Generation() int {
	n, err := strconv.Atoi(strings.TrimSpace(os.Getenv(EnvGeneration)))
	if err != nil {
		return 0
	}
	return n
}

// Addrs returns the listen addresses from HOTGO_LISTEN, in order, or nil when
// it is unset. A service that has a default address can use
//
//	if a := hotgo.Addrs(); len(a) > 0 {
//		addr = a[0]
//	}
func Addrs() []string {
	var out []string
	for _, a := range strings.Split(os.Getenv(EnvListen), ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// generationHeaderValue is the value of [GenerationHeader], or "" when the
// header must not be sent.
func generationHeaderValue() string {
	v := strings.TrimSpace(os.Getenv(EnvGeneration))
	if v == "" {
		return ""
	}
	if _, err := strconv.Atoi(v); err != nil {
		return ""
	}
	return v
}
