"""What an old generation did with its open connections when it was told to stop.

Just before the stop signal hotgo notes the connections the old process holds on
the shared port(s). It then follows the server side of each one in the kernel's
TCP table (hotgo.platform.linux_proc) until the process has exited and every
connection has settled, and sorts them by what a client could see:

- the client closed first (the server side was seen in CLOSE_WAIT/LAST_ACK, or
  vanished without a reset sent): in order. Nothing of the client's can have
  been lost: it had decided to leave (`Connection: close` answered, GOAWAY
  heeded, or its own choice);
- the server closed first with a FIN (FIN_WAIT/CLOSING/TIME_WAIT): on an HTTP/1
  port, cut, whatever the service announced (STOPPING=1 or not). The kernel
  cannot show whether the last response said `Connection: close`, and a
  keep-alive client that was not told sends its next request into the closed
  connection (or reads an end where it waited for an answer): measured under
  wrk, `http.Server.Shutdown` after STOPPING=1 (as Caddy drains) failed every
  connection it closed this way, and most of them without one reset. A service
  that tells its clients lets them close first, as hotgo's Go helper does (it
  waits for the client's FIN after a `Connection: close` answer);
- a reset (the server side vanished and the kernel's count of resets sent, Tcp
  OutRsts, grew meanwhile; unread request bytes at the close make the kernel
  send one): on an HTTP/1 port, cut: a request met a closed or abandoned
  connection.

On an HTTP/2 port (gRPC; hotgo.handoff.protocol_probe asks the port) clients are
told with GOAWAY, which also says which calls the server took. A client told so
leaves first: it closes, or resets a connection it has unread frames on (grpc-go
does), and with clients on the same host OutRsts counts their resets too. So
there a vanished connection is in order, reset or not, and a server-first FIN
(TIME_WAIT: no GOAWAY made the client leave, e.g. an exit) is cut. Measured:
grpc-go's GracefulStop under 16 client connections, every connection vanished,
up to 14 of them with resets, and not one call failed.

Connections not settled when the report is due are "still open". Where /proc
is missing (macOS, Windows) only the count at the stop signal is known
(hotgo.platform.listeners).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Sequence, Set, Tuple

from hotgo import platform
from hotgo.handoff import protocol_probe
from hotgo.platform import linux_proc, listeners

POLL = 0.05  # a read of the TCP table costs ~6 ms of kernel time: end states, not every step, count
TAIL = 0.5  # after the exit: time for clients to answer the kernel's FIN or RST
SLOW = 1.0  # a drain still under way after this may reach the drain timeout: its warning names the protocol

Key = Tuple[Tuple[str, int], Tuple[str, int]]


@dataclass(frozen=True)
class DrainReport:
    open: int  # connections on the shared ports at the stop signal
    orderly: int = 0
    cut: int = 0
    still_open: int = 0
    known: bool = True  # False: only `open` could be observed
    announced: bool = False  # the service sent STOPPING=1 (for the advice's wording; it changes no count)
    protocol: Optional[str] = None  # protocol_probe.HTTP1 / HTTP2 / BOTH (HTTP/1 rule), None: not asked or no answer

    def describe(self, stop: str) -> str:
        """`16 connections open at SIGTERM: 16 closed in order`"""
        if not self.open:
            return "no open connections"
        plural = "s" if self.open != 1 else ""
        if not self.known:
            return f"{self.open} connection{plural} open at {stop}"
        parts = []
        if self.orderly:
            parts.append(f"{self.orderly} closed in order")
        if self.cut:
            parts.append(f"{self.cut} cut")
        if self.still_open:
            parts.append(f"{self.still_open} still open")
        return f"{self.open} connection{plural} open at {stop}: " + ", ".join(parts)

    def fields(self) -> Dict[str, int]:
        """For the JSON `done` event."""
        found = {"connections_open": self.open}
        if self.known:
            found.update(connections_closed=self.orderly, connections_cut=self.cut,
                         connections_still_open=self.still_open)
        return found

    @property
    def http2(self) -> bool:
        return self.protocol == protocol_probe.HTTP2


def _open_connections(pid: int, ports: Sequence[int]) -> Optional[Set[Key]]:
    held = linux_proc.connections(pid, ports) if platform.CAPABILITIES.proc_net else None
    if held is None:
        return None
    return {(s.local, s.remote) for s in held if s.state in (linux_proc.ESTABLISHED, linux_proc.CLOSE_WAIT)}


class DrainWatch:
    """Created just before the stop signal; calls `on_report` once the process has exited and settled."""

    def __init__(self, pid: int, ports: Sequence[int], on_report: Callable[[DrainReport], None]) -> None:
        self.ports = tuple(ports)
        self.on_report = on_report
        self._exited = threading.Event()
        self._stopped = threading.Event()
        tracked = _open_connections(pid, self.ports)
        self._pending: Set[Key] = tracked or set()
        self._passive: Set[Key] = set()  # seen half-closed by the client
        self.open = len(tracked) if tracked is not None else listeners.established(pid, self.ports) or 0
        self.known = tracked is not None
        self._by_client = 0
        self._by_server = 0  # a FIN from the server side
        self._reset = 0
        self._announced = threading.Event()
        self.protocol: Optional[str] = None  # asked by the follow thread, before anything is sorted
        self._resets_before = linux_proc.tcp_resets_sent()
        if self.known and self._pending:
            threading.Thread(target=self._follow, name=f"hotgo-drain-{pid}", daemon=True).start()

    def announced(self) -> None:
        """The service said it drains (STOPPING=1): worded in the advice, never trusted for a count."""
        self._announced.set()

    def exited(self) -> None:
        """The process has been reaped; without connections to follow, report now."""
        self._exited.set()
        if not (self.known and self.open):
            self._report()

    def cancel(self) -> None:
        self._stopped.set()

    @property
    def http2(self) -> bool:
        return self.protocol == protocol_probe.HTTP2

    def still_open(self) -> int:
        """Connections noted at the stop signal that have not ended yet (for the drain timeout's warning)."""
        return len(self._pending)

    def _ask_protocol(self) -> None:
        """The shared port answers in the service's protocol, whichever generation takes the question."""
        if self.protocol is None and self.ports:
            self.protocol = protocol_probe.protocol(self.ports[0])

    def _follow(self) -> None:
        began = time.monotonic()
        exited_at: Optional[float] = None
        while self._pending and not self._stopped.is_set():
            states = {(s.local, s.remote): s.state for s in linux_proc.tcp_sockets(self.ports)}
            for key in list(self._pending):
                state = states.get(key)
                if state is None or state == linux_proc.CLOSE:
                    self._settle(key, "client" if key in self._passive else "reset")
                elif state in linux_proc.SERVER_CLOSED_FIRST:
                    self._settle(key, "server")
                elif state in linux_proc.CLIENT_CLOSED_FIRST:
                    self._passive.add(key)
            if self._exited.is_set():
                exited_at = exited_at or time.monotonic()
                if time.monotonic() - exited_at >= TAIL:
                    break
            elif time.monotonic() - began > SLOW:
                self._ask_protocol()  # for the drain timeout's warning, should it come
            self._stopped.wait(POLL)
        if not self._stopped.is_set():
            self._exited.wait()
            self._report()

    def _settle(self, key: Key, by: str) -> None:
        self._pending.discard(key)
        if by == "client":
            self._by_client += 1
        elif by == "server":
            self._by_server += 1
        else:
            self._reset += 1

    def _report(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        resets, by_client = self._reset, self._by_client
        resets_after = linux_proc.tcp_resets_sent()
        if self.known and self.open:
            self._ask_protocol()  # after the count of resets: nothing of the question's is counted
        if self._resets_before is not None and resets_after is not None:
            resets = min(resets, resets_after - self._resets_before)
            by_client += self._reset - resets  # vanished without a reset: the client closed first
        if self.protocol == protocol_probe.HTTP2:  # GOAWAY: the client leaves first, by FIN or by reset
            orderly, cut = self._by_client + self._reset, self._by_server
        else:  # HTTP/1: a keep-alive client may be mid-request on a connection the server closed
            orderly, cut = by_client, self._by_server + resets
        self.on_report(DrainReport(self.open, orderly, cut, len(self._pending), self.known,
                                   self._announced.is_set(), self.protocol))
