package hotgo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
)

// listenFDsStart is the first inherited file descriptor (SD_LISTEN_FDS_START).
const listenFDsStart = 3

// ErrNoListener is returned (wrapped) by [ListenerByName] when no inherited
// listener with that name is left.
var ErrNoListener = errors.New("hotgo: no such inherited listener")

// NamedListener is a listener inherited through LISTEN_FDS.
type NamedListener struct {
	net.Listener
	// Name is the entry of LISTEN_FDNAMES for this descriptor, or
	// "LISTEN_FD_<fd>" when LISTEN_FDNAMES does not name it.
	Name string
	// FD is the descriptor number the listener was inherited as (3, 4, ...).
	FD int
}

// inheritedFD is one descriptor announced by LISTEN_FDS.
type inheritedFD struct {
	fd    int
	name  string
	l     net.Listener // nil if err != nil
	err   error
	taken bool
}

var inherited struct {
	once sync.Once
	mu   sync.Mutex
	fds  []*inheritedFD
}

// listenEnv is the parsed LISTEN_* environment.
type listenEnv struct {
	n     int
	names []string // len == n
}

// parseListenEnv parses LISTEN_FDS, LISTEN_PID and LISTEN_FDNAMES as seen
// through getenv. ok is false when there is nothing to take, in particular
// when LISTEN_PID is not pid.
func parseListenEnv(getenv func(string) string, pid int) (env listenEnv, ok bool) {
	p, err := strconv.Atoi(strings.TrimSpace(getenv(EnvListenPID)))
	if err != nil || p != pid {
		return env, false
	}
	n, err := strconv.Atoi(strings.TrimSpace(getenv(EnvListenFDs)))
	if err != nil || n <= 0 {
		return env, false
	}
	var given []string
	if s := getenv(EnvListenFDNames); s != "" {
		given = strings.Split(s, ":")
	}
	env.n = n
	env.names = make([]string, n)
	for i := range env.names {
		if i < len(given) && given[i] != "" {
			env.names[i] = given[i]
		} else {
			env.names[i] = "LISTEN_FD_" + strconv.Itoa(listenFDsStart+i)
		}
	}
	return env, true
}

// loadInherited takes the inherited descriptors, once per process.
func loadInherited() {
	inherited.once.Do(func() {
		env, ok := parseListenEnv(os.Getenv, os.Getpid())
		if !ok {
			return
		}
		inherited.fds = takeFDs(env) // platform specific
		os.Unsetenv(EnvListenFDs)
		os.Unsetenv(EnvListenPID)
		os.Unsetenv(EnvListenFDNames)
	})
}

// Listeners returns all inherited listeners that have not been handed out
// yet, in descriptor order, with their names, and marks them handed out.
// Descriptors that could not be turned into a listener (for example a UDP
// socket) are left out and reported in the returned error, which may come
// together with a non-empty slice. Without LISTEN_FDS (or on Windows) it
// returns nil, nil.
func Listeners() ([]NamedListener, error) {
	loadInherited()
	inherited.mu.Lock()
	defer inherited.mu.Unlock()
	var out []NamedListener
	var errs []error
	for _, f := range inherited.fds {
		if f.err != nil {
			errs = append(errs, f.err)
			continue
		}
		if f.taken {
			continue
		}
		f.taken = true
		out = append(out, NamedListener{Listener: f.l, Name: f.name, FD: f.fd})
	}
	return out, errors.Join(errs...)
}

// ListenerByName returns the first inherited listener named name (by
// LISTEN_FDNAMES) that has not been handed out yet. The error wraps
// [ErrNoListener] when there is none.
func ListenerByName(name string) (net.Listener, error) {
	loadInherited()
	inherited.mu.Lock()
	defer inherited.mu.Unlock()
	var ferr error
	for _, f := range inherited.fds {
		if f.taken || f.name != name {
			continue
		}
		if f.err != nil {
			ferr = f.err
			continue
		}
		f.taken = true
		return f.l, nil
	}
	if ferr != nil {
		return nil, ferr
	}
	return nil, fmt.Errorf("%w named %q", ErrNoListener, name)
}

// Listen announces on the local network address like net.Listen, in this
// order of preference:
//
//  1. an inherited LISTEN_FDS listener whose local address matches addr:
//     same port, and the same host, or addr's host is empty, "0.0.0.0" or
//     "::", or the inherited socket is bound to the unspecified address
//     ("localhost" matches loopback addresses; for unix sockets the paths
//     must be equal). Each inherited listener is handed out only once;
//  2. otherwise, when HOTGO_LISTEN is set (reuseport mode) and network is a
//     TCP network, a new socket bound with SO_REUSEPORT (POSIX) or
//     SO_REUSEADDR (Windows), so the previous generation may still hold
//     the address;
//  3. otherwise plain net.Listen.
func Listen(network, addr string) (net.Listener, error) {
	loadInherited()
	inherited.mu.Lock()
	for _, f := range inherited.fds {
		if f.taken || f.err != nil {
			continue
		}
		if addrMatches(network, addr, f.l.Addr()) {
			f.taken = true
			inherited.mu.Unlock()
			return f.l, nil
		}
	}
	inherited.mu.Unlock()

	if os.Getenv(EnvListen) != "" && isTCP(network) {
		lc := net.ListenConfig{Control: reuseControl}
		return lc.Listen(context.Background(), network, addr)
	}
	return net.Listen(network, addr)
}

func isTCP(network string) bool {
	return network == "tcp" || network == "tcp4" || network == "tcp6"
}

// addrMatches reports whether a listener bound to la satisfies a request to
// listen on network/addr.
func addrMatches(network, addr string, la net.Addr) bool {
	switch a := la.(type) {
	case *net.TCPAddr:
		if !isTCP(network) {
			return false
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return false
		}
		p, err := net.LookupPort("tcp", port)
		if err != nil || p == 0 || p != a.Port {
			return false
		}
		is4 := a.IP.To4() != nil
		if (network == "tcp4" && !is4) || (network == "tcp6" && is4) {
			return false
		}
		if i := strings.IndexByte(host, '%'); i >= 0 {
			host = host[:i]
		}
		switch host {
		case "", "0.0.0.0", "::":
			return true
		case "localhost":
			return a.IP.IsLoopback() || a.IP.IsUnspecified()
		}
		ip := net.ParseIP(host)
		if ip == nil {
			return false
		}
		return a.IP.IsUnspecified() || ip.Equal(a.IP)
	case *net.UnixAddr:
		return (network == "unix" || network == "unixpacket") && addr != "" && a.Name == addr
	}
	return false
}
