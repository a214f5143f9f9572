//go:build unix

package hotgo

import (
	"net"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// notifySocket creates a unix datagram socket, points NOTIFY_SOCKET at it
// and returns a function that reads the next datagram.
func notifySocket(t *testing.T) func() string {
	t.Helper()
	// A short path: t.TempDir() can exceed sun_path on macOS.
	dir, err := os.MkdirTemp("", "hg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "n.sock")
	return listenNotify(t, path, path)
}

func listenNotify(t *testing.T, bindName, envValue string) func() string {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: bindName, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv(EnvNotifySocket, envValue)
	return func() string {
		t.Helper()
		buf := make([]byte, 4096)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err := c.ReadFromUnix(buf)
		if err != nil {
			t.Fatalf("reading notify datagram: %v", err)
		}
		return string(buf[:n])
	}
}

func TestNotify(t *testing.T) {
	next := notifySocket(t)
	if err := Ready(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "READY=1" {
		t.Errorf("got %q, want READY=1", got)
	}
	if err := Status("two\nlines"); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STATUS=two lines" {
		t.Errorf("got %q", got)
	}
	if err := Reloading(); err != nil {
		t.Fatal(err)
	}
	if got := next(); !regexp.MustCompile(`^RELOADING=1\nMONOTONIC_USEC=[1-9][0-9]*$`).MatchString(got) {
		t.Errorf("got %q", got)
	}
	if err := Stopping(); err != nil {
		t.Fatal(err)
	}
	if got := next(); got != "STOPPING=1" {
		t.Errorf("got %q, want STOPPING=1", got)
	}
	sent, err := Notify("STATUS=x")
	if !sent || err != nil {
		t.Errorf("Notify = %v, %v", sent, err)
	}
	next()
}

func TestNotifyUnset(t *testing.T) {
	t.Setenv(EnvNotifySocket, "")
	sent, err := Notify("READY=1")
	if sent || err != nil {
		t.Errorf("Notify without NOTIFY_SOCKET = %v, %v; want false, nil", sent, err)
	}
}
