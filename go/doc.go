// Package hotgo is the Go side of hotgo, a development daemon that watches a
// Go service's sources, rebuilds it and hands the listening socket from the
// old process to the new one without dropping requests.
//
// A service adopts hotgo by replacing net.Listen / http.ListenAndServe with
// [Listen] and [Server] (or the one-call [ListenAndServe]). Without hotgo none
// of the environment variables below exist and the same binary simply binds
// its address and serves; SIGTERM/SIGINT then still give a graceful drain.
//
// # Getting it into a module
//
// The module path github.com/hotgo-dev/hotgo/go is kept for the day this
// module is published; then `go get` it and import it under that path. Until
// then, `hotgo helper` (run inside your module) writes this package, from the
// installed hotgo and without any network, into internal/hotgo (or the
// directory you name); each file starts with a header naming the hotgo version
// it came from. Import it as "<your module path>/internal/hotgo" and run
// `hotgo helper` again to update it: `hotgo run` says when the copy differs from
// the installed hotgo's. The API is the same either way.
//
// # Protocol
//
// hotgo follows the systemd socket-activation and notify conventions, so
// services written for go-systemd work too:
//
//   - LISTEN_FDS=n, LISTEN_PID=<pid of the service>, LISTEN_FDNAMES=a:b:
//     inherited listening sockets are file descriptors 3 .. 3+n-1 (POSIX
//     only). They are ignored, and left open, when LISTEN_PID is not the
//     pid of the current process. Once taken, LISTEN_FDS, LISTEN_PID and
//     LISTEN_FDNAMES are removed from the environment so that child
//     processes do not take them again, and the descriptors are marked
//     close-on-exec.
//   - NOTIFY_SOCKET=<path>: a unix datagram socket (a leading '@' means the
//     Linux abstract namespace). The service sends newline-separated
//     KEY=VALUE datagrams, see [Notify]. When it is unset notifications are
//     no-ops.
//   - HOTGO_GENERATION=<n>: the generation number of this process, see
//     [Generation]. When set, every response served by [Server] carries the
//     header "X-Hotgo-Generation: <n>", which lets an HTTP readiness probe
//     tell generations apart.
//   - PORT=<first listen port> and HOTGO_LISTEN=<addr,addr,...> (for
//     example "127.0.0.1:8080,[::1]:9000"), see [Addrs].
//
// hotgo runs a service in one of two socket modes:
//
//   - "inherit": hotgo owns the listening sockets and passes them with
//     LISTEN_FDS. [Listen] returns the inherited socket whose address matches.
//     Old and new generation accept from the very same socket, so
//     connections queued in the kernel are never lost.
//   - "reuseport": no descriptors are passed; [Listen] binds the address
//     itself with SO_REUSEPORT (POSIX) or SO_REUSEADDR (Windows) so that the
//     old and the new generation can be bound at the same time. Note that on
//     Linux, connections still queued in the old generation's accept queue
//     when it closes its socket are reset by the kernel; "inherit" mode does
//     not have that problem.
//
// # Handoff and drain
//
// hotgo starts the new generation, waits for its READY=1, then sends the old
// one SIGTERM (CTRL_BREAK_EVENT on Windows, which Go reports as os.Interrupt),
// waits for a drain timeout and finally kills it. On SIGTERM or SIGINT
// [Server.Serve] drains:
//
//  1. it sends STOPPING=1 and closes its own listeners. In inherit mode the
//     shared socket stays open in hotgo and in the new process, so
//     connections still waiting to be accepted go to the new generation;
//  2. for [Server.Grace] (default 1s) every HTTP/1 response carries
//     "Connection: close", so each keep-alive client finishes its current
//     request and reconnects, reaching the new generation; such a connection
//     waits (up to 500ms) for its client to close it first, so that no
//     request meets a closed connection and hotgo's drain report sees the
//     client end it. The grace period ends early once no connection is
//     left. Keep-alives are deliberately not
//     disabled with SetKeepAlivesEnabled(false): that closes idle connections
//     at once, racing with clients that are just sending a request on them;
//  3. it calls http.Server.Shutdown with [Server.ShutdownTimeout] (default
//     10s) and returns nil from Serve once that completed cleanly.
//
// A second SIGTERM/SIGINT during the drain closes all connections at once.
// Hijacked connections (WebSockets and the like) are not tracked by
// net/http; register a function with http.Server.RegisterOnShutdown to ask
// them to finish. It is called when step 3 starts.
//
// # Config reload
//
// On SIGHUP (POSIX only), on a POST to [Server.ReloadHandler] (the
// "http:POST" push method, the default on Windows where there is no SIGHUP),
// or on a call to [Server.RunReload], the server runs its [Server.Reload]
// hook and reports the outcome on NOTIFY_SOCKET with exactly this sequence
// of datagrams:
//
//	RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC in µs>   (before the hook)
//	READY=1                                              (hook succeeded)
//
// or, when the hook returned an error (or panicked, or is nil):
//
//	RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC in µs>
//	STATUS=reload failed: <error text, newlines replaced by spaces>\nERRNO=22
//	READY=1
//
// The final READY=1 after a failure tells hotgo that the service is running
// again, on its old configuration; the preceding STATUS/ERRNO datagram tells
// it the reload failed and why. Reloads are serialized. While the server is
// draining, reloads are refused with [ErrDraining] and nothing is sent.
package hotgo
