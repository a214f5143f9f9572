"""Advice hotgo prints when a setting or a service change would make reloads better."""

from __future__ import annotations

from typing import Optional, Sequence

from hotgo.choices import SocketMode
from hotgo.handoff.drain import DrainReport
from hotgo.platform.listeners import listen_addresses

_TAKE_THE_SOCKET = (
    "let the service take the socket hotgo passes as fd 3 (LISTEN_FDS, LISTEN_PID: systemd socket "
    "activation, e.g. go-systemd's activation.Listeners(), or hotgo's Go helper, which `hotgo helper` writes "
    "into the module: hotgo.ListenAndServe(addr, handler) instead of http.ListenAndServe(addr, handler))"
)


def own_port_hint(generation: int, own: Sequence[str], shared: Sequence[str], queued: Optional[int],
                  same_port: bool = False) -> str:
    """A generation listens on a port of its own instead of taking hotgo's shared socket."""
    theirs, ours = ", ".join(own), ", ".join(shared)
    waiting = f" ({queued} waiting now)" if queued else ""
    if same_port:
        return (
            f"generation {generation} binds {theirs} itself (SO_REUSEPORT) next to hotgo's socket instead of "
            f"taking it: the kernel hands part of the new connections to hotgo's socket, where nobody accepts "
            f"them{waiting}. Fix: {_TAKE_THE_SOCKET}; or run with --socket reuseport, where the service binds "
            "the port itself and hotgo does not"
        )
    return (
        f"generation {generation} listens on {theirs} itself and has not taken hotgo's socket on {ours}: "
        f"connections to {ours} wait unanswered{waiting}, and reloads have to stop the old process before the new "
        f"one can bind {theirs} (downtime). Fix: {_TAKE_THE_SOCKET}; or run with --socket none and without "
        "--listen to say that the service binds its own port"
    )


_GRPC_DRAIN = ("on the stop signal call GracefulStop (it sends GOAWAY, so clients move to a new connection, and "
               "waits for the calls under way) in a goroutine, end open server streams, and Stop() after a "
               "deadline shorter than hotgo's drain_timeout")


def cut_hint(generation: int, report: DrainReport) -> str:
    """An old generation cut connections when it stopped: what clients saw, and the drain that avoids it.

    The advice fits the protocol the port speaks: `Connection: close` is HTTP/1's, GOAWAY HTTP/2's."""
    if report.http2:
        return (
            f"generation {generation} closed {report.cut} of its {report.open} open HTTP/2 connections before "
            "their clients left (no GOAWAY told them to: an exit, or Stop() without GracefulStop), so calls under "
            "way on them failed (UNAVAILABLE). To drain without that: " + _GRPC_DRAIN
        )
    clients = ("a client sending a request on one of them at that moment gets an error (wrk and other "
               "non-retrying clients count a failure; Go's http.Client retries GETs, not POSTs)")
    if report.announced:
        return (
            f"generation {generation} announced its drain (STOPPING=1) but closed or reset {report.cut} of its "
            f"{report.open} open connections before their clients did: keep-alive clients not told to reconnect "
            f"(an idle connection closed by Shutdown) fail, so {clients}. Before closing a connection, answer on "
            "it with `Connection: close` and let the client close first — hotgo's Go helper does "
            "(hotgo.ListenAndServe)"
        )
    return (
        f"generation {generation} cut {report.cut} of its {report.open} open connections when it stopped "
        f"(closed by the service or its exit before their clients closed them, or reset): keep-alive clients "
        f"were not told to reconnect, so {clients}. To drain without that: on the stop signal send STOPPING=1, "
        "close the listener, answer with `Connection: close` for a moment and let clients close first, then "
        "Shutdown — hotgo's Go helper does all of it (hotgo.ListenAndServe)"
    )


def held_open_hint(still_open: int, http2: bool) -> str:
    """Connections that kept an old generation running until the drain timeout: what holds them, the fix."""
    plural = "s" if still_open != 1 else ""
    if http2:
        return (f"{still_open} HTTP/2 connection{plural} still open after GOAWAY: gRPC's GracefulStop waits for "
                f"every open stream (a server stream or a long call) before it returns: cap it — {_GRPC_DRAIN}")
    return (f"{still_open} connection{plural} still open: http.Server.Shutdown waits for requests under way "
            "(and hijacked connections, e.g. WebSockets, are the service's to close): give Shutdown a context "
            "with a deadline shorter than hotgo's drain_timeout, and close long-lived connections on the stop "
            "signal")


def address_in_use_hint(generation: int, line: str, shared: Sequence[str], holder: Optional[int]) -> str:
    """A generation died binding an address: say who holds it and what to change."""
    if holder is None:
        return (
            f"generation {generation} tried to bind a port hotgo holds for it (“{line}”): hotgo binds "
            f"{', '.join(shared)} once and passes it to every generation as fd 3. Fix: {_TAKE_THE_SOCKET}; "
            "or run with --socket none so that hotgo does not bind the port"
        )
    return (
        f"generation {generation} binds its port itself and generation {holder} still holds it (“{line}”), "
        f"so no edit could take effect. From now on hotgo stops the old process before starting the new one "
        f"(downtime at every reload). Fix: {_TAKE_THE_SOCKET}"
    )


def released_hint(generation: int, what: str, shared: Sequence[str], mode: SocketMode) -> str:
    """Socket mode auto, a service that binds the shared port itself: what hotgo does now, and the fix."""
    ours = ", ".join(shared)
    if mode is SocketMode.NONE:
        how = ("from now on each reload stops the old process before the new one starts: connections are "
               "refused for that moment")
    else:
        how = ("from now on each new process binds beside the old one, which then stops (socket mode "
               "reuseport: what waits in the old process's own accept queue is reset)")
    return (f"generation {generation} {what}: hotgo let go of its socket on {ours}; {how}. For zero downtime "
            f"{_TAKE_THE_SOCKET}; or set socket = \"{mode}\" under [run] to start this way")


def listen_hint(generation: int, pid: int) -> Optional[str]:
    ports = listen_addresses(pid)
    if not ports:
        return None
    listen = ", ".join(f'"{p}"' for p in ports)
    return (
        f"generation {generation} listens on {', '.join(ports)}; with socket mode none every reload "
        "refuses connections while the service restarts. For seamless reloads: run with "
        f"--listen {ports[0]} (or `listen = [{listen}]` under [run] in hotgo.toml) and let the "
        "service take the shared socket — with the hotgo Go helper that is: run `hotgo helper` in the module "
        "(it writes the helper package into internal/hotgo, offline, and prints the import line), "
        'import "<your module path>/internal/hotgo", '
        "and call hotgo.ListenAndServe(addr, handler) instead of http.ListenAndServe(addr, handler)."
    )
