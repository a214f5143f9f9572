"""A service that listens on a port itself instead of taking the shared socket.

- It binds the very address hotgo holds (a plain `http.ListenAndServe`: "address already in
  use"), or binds that port beside hotgo's socket with SO_REUSEPORT: in socket mode `auto`
  hotgo lets go of its socket and hands off the way the service allows (stop-then-start, or
  start-then-stop beside it), saying so once with the fix. A mode the user chose is kept: the
  failure is explained instead.
- It listens on another port: counted ready at once (the summary names that port); if it has
  still not taken the shared socket after OWN_PORT_GRACE, the user is told once, and handoffs
  go stop-then-start, since two generations cannot both bind that port.
"""

from __future__ import annotations

import re
from typing import Callable, Optional, Sequence

from hotgo.choices import SocketMode
from hotgo.deadlines import Timer
from hotgo.handoff.advice import address_in_use_hint, listen_hint, own_port_hint, released_hint
from hotgo.handoff.generation import Generation, State, describe_exit
from hotgo.handoff.readiness import OWN_PORT_GRACE, ReadinessWatch, Sockets, own_listeners, port_of
from hotgo.log import Log
from hotgo.loop.service import Service
from hotgo.loop.status_note import StatusNote
from hotgo.platform import linux_proc


class OwnPortWatch:
    def __init__(self, service: Service, readiness: ReadinessWatch, note: StatusNote, log: Log,
                 after: Callable[[float, Callable[[], None]], Timer]) -> None:
        self._service = service
        self._readiness = readiness
        self._note = note
        self._log = log
        self._after = after
        self.stop_then_start = False  # handoffs stop the old generation first
        self.warned = False
        self._hinted_listen = False

    def seen(self, generation: Generation, own: Sequence[str]) -> None:
        """The socket watch saw it listen itself instead of (or besides) taking the shared socket."""
        if any(port_of(a) in self._service.ports for a in own):
            if not self._release(SocketMode.REUSEPORT, generation, f"binds {', '.join(own)} with SO_REUSEPORT"):
                self._warn(generation, own, same_port=True)
            return
        generation.own_listen = tuple(own)  # the summary must not say it serves on the shared port
        # A service that opens a metrics port first takes the shared socket a moment later: judge then.
        self._after(OWN_PORT_GRACE, lambda: self._look(generation))

    def after_ready_signal(self, generation: Generation) -> None:
        """READY=1 stops the socket watch: look now and once a moment later (each look reads the
        kernel's TCP table, milliseconds, so it runs off the handoff's path)."""
        if self.warned:
            return
        self._look(generation)
        self._after(OWN_PORT_GRACE, lambda: self._look(generation))

    def _look(self, generation: Generation) -> None:
        sockets = self._readiness.sockets
        if generation.state is State.STOPPED or self._service.mode is not SocketMode.INHERIT or sockets is None:
            return
        own = own_listeners(generation.pid, sockets)
        if not own:
            return
        if any(port_of(a) in self._service.ports for a in own):
            self.seen(generation, own)
        elif not linux_proc.accepting(generation.pid, sockets.inodes):
            generation.own_listen = own
            self.stop_then_start = True  # two generations cannot both bind that port
            self._readiness.expect_own_port = True
            self._warn(generation, own, same_port=False)
        else:
            generation.own_listen = ()  # it took the shared socket after all (a metrics port came first)

    def _warn(self, generation: Generation, own: Sequence[str], same_port: bool) -> None:
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

    def failed_in_use(self, failed: Generation, code: int, old: Optional[Generation]) -> Optional[bool]:
        """A generation exited before it was ready: None if not for an address in use; else (said)
        whether to start the same build again, because the service binds the port itself."""
        line = next((text for text in failed.recent if "address already in use" in text), "")
        if not line:
            return None
        self._log.warn(f"generation {failed.number} exited before it was ready ({describe_exit(code)}): address "
                       "already in use", event="failed_start", generation=failed.number, code=code)
        return self._address_in_use(failed, line, old)

    def _address_in_use(self, failed: Generation, line: str, old: Optional[Generation]) -> bool:
        """`failed` died on "address already in use". True when starting the same build again can
        work, stop-then-start: hotgo let go of its socket, or the old generation holds the port."""
        line = line.strip()
        if self._names_shared_port(line):
            if self._release(SocketMode.NONE, failed, f"binds its port itself (“{line}”)"):
                return True
            holder = None
        else:
            holder = old.number if old is not None else None
        self._log.error(address_in_use_hint(failed.number, line, self._service.shown_addresses, holder),
                        event="address_in_use", generation=failed.number)
        if holder is None or self.stop_then_start:
            return False
        self.stop_then_start = True
        self._readiness.expect_own_port = True
        self._note.set("the service binds its port itself: reloads stop the old process first", lasting=True)
        return True

    def _release(self, mode: SocketMode, generation: Generation, what: str) -> bool:
        """Socket mode auto: let go of hotgo's socket and hand off in `mode` from now on."""
        shared = self._service.shared
        if not shared.can_release():
            return False
        shared.release(mode)
        self._readiness.use_sockets(Sockets(frozenset(), shared.ports))
        addresses = self._service.shown_addresses
        self._note.set(f"the service binds {', '.join(addresses)} itself: socket mode {mode} "
                       f"({'reloads stop the old process first' if mode is SocketMode.NONE else 'it binds beside'})",
                       lasting=True)
        self._log.warn(released_hint(generation.number, what, addresses, mode), event="socket_released",
                       generation=generation.number, listen=addresses, socket=mode.value)
        return True

    def _names_shared_port(self, line: str) -> bool:
        """Does the line name one of the ports hotgo itself holds?"""
        return self._service.mode is SocketMode.INHERIT and any(
            re.search(rf":{port}\b", line) for port in self._service.ports)

    def say_stop_first(self, old: int, number: int, held: bool = False) -> None:
        """Why generation `old` stops before `number` starts, and what it costs (`held`: a front door
        holds the requests meanwhile, so nobody is refused; they wait)."""
        if held:
            self._log.info(f"stopping generation {old} before starting {number}: the front door holds new "
                           "requests meanwhile")
        elif self._service.addresses or self.stop_then_start:
            why = "it binds its port itself" if self.stop_then_start else "socket mode none"
            self._log.warn(f"{why}: stopping generation {old} before starting {number} — connections "
                           "are refused meanwhile (let the service take the shared socket to avoid this)")
        else:  # a worker: no port, so nobody is refused; one at a time is what it expects
            self._log.info(f"no port: stopping generation {old} before starting {number}")

    def hint_listen_once(self, generation: Generation) -> None:
        """No --listen: a second after the first ready, say if it listens on a port hotgo could share."""
        if self._hinted_listen or self._service.addresses:
            return
        self._hinted_listen = True

        def hint() -> None:
            text = listen_hint(generation.number, generation.pid) if generation.state is not State.STOPPED else None
            if text:
                self._log.warn(text, event="listen_hint", generation=generation.number)
        self._after(1.0, hint)
