//go:build unix

package hotgo

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestHelperProcess is not a real test: it is the child process of
// TestInherit*, run with GO_WANT_HELPER_PROCESS=1 and fds 3 and 4.
func TestHelperProcess(t *testing.T) {
	if os.Getenv("GO_WANT_HELPER_PROCESS") != "1" {
		return
	}
	out := func(format string, args ...any) { fmt.Printf(format+"\n", args...) }
	fail := func(format string, args ...any) {
		out("FAIL "+format, args...)
		os.Exit(1)
	}
	switch os.Getenv("HOTGO_HELPER_MODE") {
	case "take":
		// LISTEN_PID must be our own pid, which the parent cannot know.
		os.Setenv(EnvListenPID, strconv.Itoa(os.Getpid()))
		admin, err := ListenerByName("admin")
		if err != nil {
			fail("ListenerByName(admin): %v", err)
		}
		if _, err := ListenerByName("admin"); err == nil {
			fail("admin handed out twice")
		}
		httpL, err := Listen("tcp", os.Getenv("HELPER_HTTP_ADDR"))
		if err != nil {
			fail("Listen: %v", err)
		}
		if got, want := httpL.Addr().String(), os.Getenv("HELPER_HTTP_ADDR"); got != want {
			fail("Listen returned %s, want %s", got, want)
		}
		if rest, err := Listeners(); err != nil || len(rest) != 0 {
			fail("Listeners() after taking all = %v, %v", rest, err)
		}
		for _, k := range []string{EnvListenFDs, EnvListenPID, EnvListenFDNames} {
			if v, ok := os.LookupEnv(k); ok {
				fail("%s still set to %q", k, v)
			}
		}
		// Serve one connection on each: the parent checks which answers.
		for _, p := range []struct {
			name string
			l    net.Listener
		}{{"admin", admin}, {"http", httpL}} {
			c, err := p.l.Accept()
			if err != nil {
				fail("accept %s: %v", p.name, err)
			}
			io.WriteString(c, p.name+"\n")
			c.Close()
		}
		out("OK take")
	case "ignore":
		ls, err := Listeners()
		if err != nil || len(ls) != 0 {
			fail("Listeners() with foreign LISTEN_PID = %v, %v", ls, err)
		}
		if os.Getenv(EnvListenFDs) != "2" {
			fail("LISTEN_FDS was touched")
		}
		var st syscall.Stat_t
		for fd := 3; fd <= 4; fd++ {
			if err := syscall.Fstat(fd, &st); err != nil {
				fail("fd %d closed: %v", fd, err)
			}
		}
		out("OK ignore")
	default:
		fail("unknown mode")
	}
	os.Exit(0)
}

// startHelper runs the helper with two real TCP listeners as fds 3 and 4
// (named http and admin) and returns the listeners' addresses.
func startHelper(t *testing.T, mode, listenPID string) (cmd *exec.Cmd, stdout *strings.Builder, httpAddr, adminAddr string) {
	t.Helper()
	var files []*os.File
	var addrs []string
	for i := 0; i < 2; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		f, err := l.(*net.TCPListener).File()
		if err != nil {
			t.Fatal(err)
		}
		l.Close() // f keeps the socket listening
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
		addrs = append(addrs, l.Addr().String())
	}
	cmd = exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.ExtraFiles = files
	cmd.Env = append(os.Environ(),
		"GO_WANT_HELPER_PROCESS=1",
		"HOTGO_HELPER_MODE="+mode,
		"HELPER_HTTP_ADDR="+addrs[0],
		EnvListenFDs+"=2",
		EnvListenFDNames+"=http:admin",
		EnvListenPID+"="+listenPID,
	)
	stdout = new(strings.Builder)
	cmd.Stdout = stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, stdout, addrs[0], addrs[1]
}

func TestInheritTakesListenersByName(t *testing.T) {
	cmd, stdout, httpAddr, adminAddr := startHelper(t, "take", "")
	for _, want := range []struct{ name, addr string }{{"admin", adminAddr}, {"http", httpAddr}} {
		c, err := net.DialTimeout("tcp", want.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if err != nil {
			t.Fatalf("read from %s: %v (child output %q)", want.name, err, stdout)
		}
		if strings.TrimSpace(line) != want.name {
			t.Errorf("listener at %s answered %q, want %q", want.addr, line, want.name)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v; output %q", err, stdout)
	}
	if !strings.Contains(stdout.String(), "OK take") {
		t.Fatalf("helper output %q", stdout)
	}
}

func TestInheritIgnoresForeignPID(t *testing.T) {
	cmd, stdout, _, _ := startHelper(t, "ignore", "1")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v; output %q", err, stdout)
	}
	if !strings.Contains(stdout.String(), "OK ignore") {
		t.Fatalf("helper output %q", stdout)
	}
}
