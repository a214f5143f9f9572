package hotgo

import (
	"net"
	"reflect"
	"testing"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestParseListenEnv(t *testing.T) {
	env := map[string]string{
		EnvListenFDs:     "3",
		EnvListenPID:     "4242",
		EnvListenFDNames: "http:admin",
	}
	got, ok := parseListenEnv(envFunc(env), 4242)
	if !ok {
		t.Fatal("not ok for matching pid")
	}
	want := listenEnv{n: 3, names: []string{"http", "admin", "LISTEN_FD_5"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if _, ok := parseListenEnv(envFunc(env), 4243); ok {
		t.Fatal("ok for another pid")
	}
	delete(env, EnvListenPID)
	if _, ok := parseListenEnv(envFunc(env), 4242); ok {
		t.Fatal("ok without LISTEN_PID")
	}
	env[EnvListenPID] = "4242"
	env[EnvListenFDs] = "0"
	if _, ok := parseListenEnv(envFunc(env), 4242); ok {
		t.Fatal("ok for LISTEN_FDS=0")
	}
}

func TestAddrMatches(t *testing.T) {
	lo := &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}
	any4 := &net.TCPAddr{IP: net.IPv4zero, Port: 8080}
	lo6 := &net.TCPAddr{IP: net.IPv6loopback, Port: 9000}
	cases := []struct {
		network, addr string
		la            net.Addr
		want          bool
	}{
		{"tcp", "127.0.0.1:8080", lo, true},
		{"tcp", ":8080", lo, true},
		{"tcp", "0.0.0.0:8080", lo, true},
		{"tcp", "[::]:8080", lo, true},
		{"tcp", "localhost:8080", lo, true},
		{"tcp4", "127.0.0.1:8080", lo, true},
		{"tcp6", "127.0.0.1:8080", lo, false},
		{"tcp", "127.0.0.1:8081", lo, false},
		{"tcp", "127.0.0.1:0", lo, false},
		{"tcp", "10.0.0.1:8080", lo, false},
		{"tcp", "10.0.0.1:8080", any4, true},
		{"tcp", "[::1]:9000", lo6, true},
		{"tcp", "127.0.0.1:9000", lo6, false},
		{"udp", "127.0.0.1:8080", lo, false},
		{"tcp", "bogus", lo, false},
		{"unix", "/run/x.sock", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, true},
		{"unix", "/run/y.sock", &net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, false},
	}
	for _, c := range cases {
		if got := addrMatches(c.network, c.addr, c.la); got != c.want {
			t.Errorf("addrMatches(%q, %q, %v) = %v, want %v", c.network, c.addr, c.la, got, c.want)
		}
	}
}

func TestAddrsAndGeneration(t *testing.T) {
	t.Setenv(EnvListen, " 127.0.0.1:8080, [::1]:9000 ,")
	if got, want := Addrs(), []string{"127.0.0.1:8080", "[::1]:9000"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Addrs() = %q, want %q", got, want)
	}
	t.Setenv(EnvListen, "")
	if got := Addrs(); got != nil {
		t.Errorf("Addrs() = %q, want nil", got)
	}
	t.Setenv(EnvGeneration, "7")
	if g := Generation(); g != 7 {
		t.Errorf("Generation() = %d, want 7", g)
	}
	t.Setenv(EnvGeneration, "x")
	if g := Generation(); g != 0 {
		t.Errorf("Generation() = %d, want 0", g)
	}
}

// TestListenReusePort binds the same address twice in reuseport mode.
func TestListenReusePort(t *testing.T) {
	t.Setenv(EnvListen, "127.0.0.1:0")
	l1, err := Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l1.Close()
	l2, err := Listen("tcp", l1.Addr().String())
	if err != nil {
		t.Fatalf("second bind of %s in reuseport mode: %v", l1.Addr(), err)
	}
	l2.Close()
}
