"""A service that listens on a port of its own instead of taking the shared socket.

Two generations cannot both bind that port, so from then on handoffs go stop-then-start (as in
socket mode none), and the user is told once, with the fix. Seen by the socket watch while a
generation starts, by a look after a READY=1, or by an "address already in use" at start.
"""

from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

from hotgo.choices import SocketMode
from hotgo.deadlines import Timer
from hotgo.handoff.advice import address_in_use_hint, listen_hint, own_port_hint
from hotgo.handoff.generation import Generation, State
from hotgo.handoff.readiness import OWN_PORT_GRACE, Sockets, own_listeners, port_of
from hotgo.log import Log
from hotgo.loop.service import Service
from hotgo.loop.status_note import StatusNote
from hotgo.platform import linux_proc


class OwnPortWatch:
    def __init__(self, service: Service, sockets: Optional[Sockets], note: StatusNote, log: Log,
                 after: Callable[[float, Callable[[], None]], Timer]) -> None:
        self._service = service
        self._sockets = sockets  # None where /proc cannot tell
        self._note = note
        self._log = log
        self._after = after
        self.stop_then_start = False  # handoffs stop the old generation first
        self.warned = False
        self._hinted_listen = False

    def seen(self, generation: Generation, own: Sequence[str]) -> None:
        """It listens itself instead of (or besides) taking the shared socket: say so, once."""
        ports = self._service.ports
        same_port = any(port_of(a) in ports for a in own)
        if not same_port:
            generation.own_listen = tuple(own)  # the summary must not say it serves on the shared port
            self.stop_then_start = True
        if self.warned:
            return
        self.warned = True
        self._note.set(f"the service listens on {', '.join(own)} itself, not (only) on hotgo's shared socket",
                       lasting=True)
        queued = [linux_proc.accept_queue(s) for s in self._service.listeners]
        waiting = sum(q for q in queued if q) if any(q is not None for q in queued) else None
        self._log.error(
            own_port_hint(generation.number, tuple(own), self._service.shown_addresses, waiting, same_port),
            event="own_port", generation=generation.number, listen=list(own), queued=waiting)

    def after_ready_signal(self, generation: Generation) -> None:
        """READY=1 stops the socket watch: look now and once a moment later (each look reads the
        kernel's TCP table, milliseconds, so it runs off the handoff's path)."""
        if self.warned:
            return
        self._look(generation)
        self._after(OWN_PORT_GRACE, lambda: self._look(generation))

    def _look(self, generation: Generation) -> None:
        sockets = self._sockets
        if generation.state is State.STOPPED or self._service.mode is not SocketMode.INHERIT or sockets is None:
            return
        own = own_listeners(generation.pid, sockets)
        beside_ours = any(port_of(a) in self._service.ports for a in own)
        if own and (beside_ours or not linux_proc.accepting(generation.pid, sockets.inodes)):
            self.seen(generation, own)

    def address_in_use(self, failed: Generation, line: str, old: Optional[Generation]) -> bool:
        """`failed` died on "address already in use": say who holds the port. True when it is the
        previous generation's own bind, which only stop-then-start can get past (retry so)."""
        holder = old.number if old is not None and not self._names_shared_port(line) else None
        self._log.error(address_in_use_hint(failed.number, line.strip(), self._service.shown_addresses, holder),
                        event="address_in_use", generation=failed.number)
        if holder is None or self.stop_then_start:
            return False
        self.stop_then_start = True
        self._note.set("the service binds its port itself: reloads stop the old process first", lasting=True)
        return True

    def _names_shared_port(self, line: str) -> bool:
        """Does the line name one of the ports hotgo itself holds?"""
        return self._service.mode is SocketMode.INHERIT and any(
            re.search(rf":{port}\b", line) for port in self._service.ports)

    def hint_listen_once(self, generation: Generation) -> None:
        """Socket mode none: a second after the first ready, say if it listens on a port hotgo could share."""
        if self._hinted_listen:
            return
        self._hinted_listen = True

        def hint() -> None:
            text = listen_hint(generation.number, generation.pid) if generation.state is not State.STOPPED else None
            if text:
                self._log.warn(text, event="listen_hint", generation=generation.number)
        self._after(1.0, hint)
