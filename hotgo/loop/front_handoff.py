"""The front door's part in a handoff (--front), on the loop: it asks, and acts when the answer
comes as an event or its deadline passes; nothing here waits.

Stop-then-start (mode none, a service on its own port): "pause" first; the old generation gets
its stop signal once every request let in has its whole answer (at most the drain timeout), and
the held requests go once the new generation is ready. Beside a new generation: "hold" first; the
old one gets its stop signal once every request let in has its answer's head (at most HOLD_WAIT),
then new requests go once it no longer accepts on the port (seen from outside, at most
LISTENER_WAIT; where the OS does not show it, BLIND_WAIT, a guess). Without a front door the old
generation is stopped at once in both cases.
"""

from __future__ import annotations

from typing import Callable, Dict, Optional, Tuple

from hotgo.browser.front_door import FrontAnswered, FrontDoor
from hotgo.deadlines import Timer
from hotgo.handoff.generation import Generation, State
from hotgo.handoff.listening import still_accepting
from hotgo.log import Log
from hotgo.loop.service import Service
from hotgo.platform import linux_proc

HOLD_WAIT = 1.0  # for answers' heads before an old generation is told to stop
ANSWER_MARGIN = 1.0  # beyond the front door's own bound, before hotgo stops waiting for its answer
LISTENER_POLL = 0.002  # a /proc look costs ~0.1 ms; a Go server closes its listener ~1 ms after SIGTERM
LISTENER_WAIT = 1.0  # a generation still accepting this long after its stop signal: new requests go anyway
BLIND_WAIT = 0.1  # where the listener cannot be seen (not Linux, or psutil cannot say): a guess

After = Callable[[float, Callable[[], None]], Timer]
Stop = Callable[[Generation], None]  # the stop signal and drain timeout (Drains.stop)
Then = Callable[[Optional[int]], None]  # requests left, None when the answer did not come


class FrontHandoff:
    def __init__(self, door: Optional[FrontDoor], service: Service, log: Log, clock: Callable[[], float],
                 after: After) -> None:
        self._door = door
        self._log = log
        self._clock = clock
        self._after = after
        self._drain_timeout = service.settings.run_drain_timeout
        self._port = service.addresses[0].port if service.addresses else 0
        self._inodes = frozenset(linux_proc.inode_of(s) for s in service.inherited)
        self._pending: Dict[int, Tuple[str, Then, Timer]] = {}
        self._turn = 0  # each pause or hold starts one; a resume from an older turn is dropped
        self._gone = False

    @property
    def door_open(self) -> bool:
        """A front door stands before the service: in a stop-then-start its clients wait, not fail."""
        return self._door is not None and not self._gone

    def stop_then_start(self, old: Generation, stop: Stop) -> None:
        """Before `old` is stopped with no successor yet: `stop` once its requests are answered."""
        if self._door is None:
            stop(old)
            return
        self._turn += 1
        self._ask("pause", self._drain_timeout, lambda left: self._stop(old, stop, left, "whole answer"))

    def handed_over(self, old: Optional[Generation], new: Generation, stop: Stop) -> None:
        """`new` is ready: `stop` the old one once no request can still go to it, then let them go."""
        if self._door is None:
            if old is not None:
                stop(old)
            return
        if old is None:
            self.resume()
            return
        self._turn += 1
        turn = self._turn

        def held(left: Optional[int]) -> None:
            since = self._clock()  # its stop signal
            self._stop(old, stop, left, "answer's head")
            self._watch(old, new, turn, since)

        self._ask("hold", HOLD_WAIT, held)

    def resume(self) -> None:
        self._turn += 1
        if self._door is not None:
            self._door.send("resume")

    def answered(self, answer: FrontAnswered) -> None:
        if answer.kind == "gone":
            if not self._gone:
                self._gone = True
                self._log.error("the front door exited: its clients get no answer until hotgo runs again",
                                event="front_gone")
            for ask in list(self._pending):
                self._late(ask, say=False)
            return
        pending = self._pending.pop(answer.ask, None)
        if pending is not None:
            pending[2].cancel()
            pending[1](answer.left)

    def _ask(self, command: str, wait: float, then: Then) -> None:
        assert self._door is not None
        ask = self._door.send(command, wait)
        if ask == 0:  # gone
            then(None)
            return
        timer = self._after(wait + ANSWER_MARGIN, lambda: self._late(ask))
        self._pending[ask] = (command, then, timer)

    def _late(self, ask: int, say: bool = True) -> None:
        pending = self._pending.pop(ask, None)
        if pending is None:
            return
        pending[2].cancel()
        if say:
            self._log.warn(f"the front door did not answer '{pending[0]}' in time: going on without it",
                           event="front_late", command=pending[0])
        pending[1](None)

    def _stop(self, old: Generation, stop: Stop, left: Optional[int], what: str) -> None:
        if left:
            self._log.warn(f"front door: {left} request(s) without their {what} when generation {old.number} "
                           "is told to stop", event="front_left", generation=old.number, left=left)
        if old.state is State.READY:  # not stopped meanwhile (it exited, or hotgo is stopping)
            stop(old)

    def _watch(self, old: Generation, new: Generation, turn: int, since: float) -> None:
        """Poll until `old` no longer accepts on the port, then resume (unless a newer turn began)."""
        if turn != self._turn:
            return
        waited = self._clock() - since
        accepting = still_accepting(old.pid, self._port, self._inodes) if old.state is not State.STOPPED else False
        if accepting is None and waited < BLIND_WAIT:
            self._after(BLIND_WAIT - waited, lambda: self._watch(old, new, turn, since))
            return
        if accepting and waited < LISTENER_WAIT:
            self._after(LISTENER_POLL, lambda: self._watch(old, new, turn, since))
            return
        if accepting:
            self._log.warn(f"generation {old.number} still accepts {waited:.1f} s after its stop signal: the front "
                           "door's new connections may reach it", event="front_listener_wait",
                           generation=old.number)
        how = "not seen: a fixed wait" if accepting is None else (
            "still accepting" if accepting else "stopped accepting")
        self._log.info(f"front door: new requests go to generation {new.number} (generation {old.number} "
                       f"{how}, {waited * 1000:.0f} ms after its stop signal)", event="front_resume",
                       generation=new.number, old=old.number, how=how, seconds=round(waited, 4))
        self.resume()
