"""Who listens where: the one answer, for every OS, to "which TCP ports does this process
listen on", "which process holds this port" and "how many connections does it hold".

Linux: /proc (hotgo.platform.linux_proc), ~0.1 ms a look, and each socket's inode,
which tells the listeners hotgo shares with a generation from those it opened
itself. Elsewhere: psutil (no inodes). psutil 6.0 renamed Process.connections()
to net_connections() and pyproject allows psutil 5.9: `_connections` is the only
caller of either. On Windows psutil raises RuntimeError when GetExtendedTcpTable
fails (Wine 8 often): that counts as "the OS will not say", like AccessDenied.

Every answer about one process is [] (or False, or 0) once it is gone, a zombie
included (its sockets are closed), and None where the OS will not say.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional

import psutil

from hotgo.platform import linux_proc
from hotgo.platform.base import CAPABILITIES

# psutil >= 6.0 has Process.net_connections; 5.x calls the same method connections.
NET_CONNECTIONS = hasattr(psutil.Process, "net_connections")


@dataclass(frozen=True)
class Listener:
    """A listening TCP socket."""

    host: str  # "0.0.0.0" or "::" for every interface
    port: int
    inode: int = 0  # where /proc names the socket (Linux); 0 elsewhere

    @property
    def address(self) -> str:
        """As --listen takes it: `:8080` (every interface), `127.0.0.1:8080`, `[::1]:8080`."""
        host = self.host
        host = "" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in host else host)
        return f"{host}:{self.port}"


def _connections(process: psutil.Process) -> List[Any]:
    """The TCP sockets of one process, through whichever name this psutil has."""
    try:
        if NET_CONNECTIONS:
            return list(process.net_connections(kind="tcp"))
        return list(process.connections(kind="tcp"))
    except RuntimeError as err:  # Windows: GetExtendedTcpTable failed: cannot tell
        raise psutil.AccessDenied(process.pid, msg=str(err)) from None


def _listening_proc(pid: int) -> Optional[List[Listener]]:
    found = linux_proc.listening(pid)
    if found is None:  # its fds could not be read: gone, or another user's
        return None if os.path.exists(f"/proc/{pid}") else []
    return [Listener(s.local[0], s.local[1], s.inode) for s in found]


def _listening_psutil(pid: int) -> Optional[List[Listener]]:
    try:
        found = _connections(psutil.Process(pid))
    except psutil.NoSuchProcess:  # also a zombie: its sockets are closed
        return []
    except psutil.Error:
        return None
    return [Listener(c.laddr.ip, c.laddr.port) for c in found if c.status == psutil.CONN_LISTEN and c.laddr]


def listening(pid: int) -> Optional[List[Listener]]:
    """The TCP sockets process `pid` listens on."""
    return _listening_proc(pid) if CAPABILITIES.proc_net else _listening_psutil(pid)


def _family(pid: int) -> Optional[List[int]]:
    """`pid` and its descendants; [] if it is gone, None if the OS will not say."""
    try:
        process = psutil.Process(pid)
        return [pid, *(child.pid for child in process.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []
    except psutil.Error:
        return None


def listens_on(pid: int, port: int, *, family: bool = False) -> Optional[bool]:
    """Does process `pid` (with `family`: or one of its descendants) listen on TCP `port`?"""
    members = _family(pid) if family else [pid]
    if members is None:
        return None
    for member in members:
        found = listening(member)
        if found is None:
            return None
        if any(s.port == port for s in found):
            return True
    return False


def listen_addresses(pid: int) -> List[str]:
    """The addresses process `pid` listens on, as --listen takes them, sorted; [] if unknown."""
    return sorted({s.address for s in listening(pid) or []})


def holder(port: int) -> Optional[str]:
    """Name the process listening on TCP `port` (`pid 12 (cmd args)`), when the OS lets us see it."""
    try:
        connections = psutil.net_connections(kind="tcp")  # every process's: one name in every psutil
    except (psutil.Error, OSError, RuntimeError):  # macOS without root; Windows: GetExtendedTcpTable failed
        return None
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            if conn.pid is None:
                return "a process of another user"
            try:
                proc = psutil.Process(conn.pid)
                command = " ".join(proc.cmdline()[:4]) or proc.name()
            except psutil.Error:
                return f"pid {conn.pid}"
            return f"pid {conn.pid} ({command})"
    return None


def established(pid: int, ports: Iterable[int]) -> Optional[int]:
    """How many established connections process `pid` holds on these local ports (psutil's count:
    where /proc is missing, the drain report knows only this)."""
    wanted = set(ports)
    try:
        found = _connections(psutil.Process(pid))
    except psutil.NoSuchProcess:
        return 0
    except psutil.Error:
        return None
    return sum(1 for c in found if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port in wanted)
