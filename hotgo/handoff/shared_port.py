"""The port hotgo shares across generations, and the socket mode in effect for it.

The mode can change once while hotgo runs: in socket mode `auto`, a service that binds the
port itself (a plain `http.ListenAndServe`) cannot share hotgo's socket, so hotgo lets go of
it (`release`) and hands off the way that service allows: stop-then-start (`none`), or, when
the service binds with SO_REUSEPORT, start-then-stop beside it (`reuseport`).
"""

from __future__ import annotations

import socket
from typing import Sequence, Tuple

from hotgo.choices import SocketMode
from hotgo.platform import linux_proc
from hotgo.settings.addresses import ListenAddress


class SharedPort:
    def __init__(self, mode: SocketMode, chosen: bool, addresses: Sequence[ListenAddress],
                 listeners: Sequence[socket.socket]) -> None:
        self.mode = mode
        self.chosen = chosen  # the user set the mode: hotgo never changes it
        self.addresses: Tuple[ListenAddress, ...] = tuple(addresses)  # as bound (a port 0 resolved)
        self.listeners: Tuple[socket.socket, ...] = tuple(listeners)  # hotgo's own, in --listen order
        self.released = False

    @property
    def inherited(self) -> Sequence[socket.socket]:
        """The sockets every generation inherits as fds 3, 4, … (only in mode inherit)."""
        return self.listeners if self.mode is SocketMode.INHERIT else ()

    @property
    def inodes(self) -> frozenset[int]:
        return frozenset(linux_proc.inode_of(s) for s in self.inherited)

    @property
    def ports(self) -> Tuple[int, ...]:
        return tuple(a.port for a in self.addresses)

    def can_release(self) -> bool:
        """Mode auto chose inherit: hotgo may let go of its socket for a service that binds the port."""
        return not self.chosen and not self.released and self.mode is SocketMode.INHERIT

    def release(self, mode: SocketMode) -> None:
        """Close hotgo's sockets (a generation still holding its inherited copy keeps the port bound
        until it stops) and hand off in `mode` from now on. The addresses stay: they tell readiness
        which port to look at, and the browser proxy where to go."""
        for sock in self.listeners:
            sock.close()
        self.listeners = ()
        self.mode = mode
        self.released = True
