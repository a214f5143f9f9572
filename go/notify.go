package hotgo

import (
	"net"
	"os"
	"strconv"
	"strings"
)

// Notify sends state, one or more newline-separated KEY=VALUE assignments,
// as a single datagram to the unix datagram socket named by NOTIFY_SOCKET
// (a leading '@' names the Linux abstract namespace), like sd_notify(3).
// hotgo understands READY=1, STOPPING=1, RELOADING=1 (with MONOTONIC_USEC),
// STATUS=... and ERRNO=....
//
// When NOTIFY_SOCKET is unset Notify does nothing and returns false, nil.
// sent is true when the datagram was delivered to the socket.
func Notify(state string) (sent bool, err error) {
	path := os.Getenv(EnvNotifySocket)
	if path == "" {
		return false, nil
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return false, err
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, err
	}
	return true, nil
}

// Ready sends READY=1: the service is up (or back up after a reload).
func Ready() error {
	_, err := Notify("READY=1")
	return err
}

// Stopping sends STOPPING=1: the service has begun to shut down.
func Stopping() error {
	_, err := Notify("STOPPING=1")
	return err
}

// Reloading sends RELOADING=1 together with MONOTONIC_USEC, the current
// CLOCK_MONOTONIC time in microseconds, as systemd's notify-reload expects.
// Follow it with [Ready] once the reload is done.
func Reloading() error {
	_, err := Notify("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(monotonicUsec(), 10))
	return err
}

// Status sends STATUS=msg, a free-form status line. Newlines in msg are
// replaced by spaces.
func Status(msg string) error {
	_, err := Notify("STATUS=" + oneLine(msg))
	return err
}

// oneLine makes s safe as the value of a KEY=VALUE line.
func oneLine(s string) string {
	return strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(s)
}
