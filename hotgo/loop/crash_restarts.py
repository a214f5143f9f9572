"""The serving process exited on its own: restart it with backoff, report a loop, give up and roll back."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from hotgo.deadlines import Timer
from hotgo.handoff.generation import Generation, describe_exit
from hotgo.log import Log
from hotgo.loop.build_history import BuildHistory
from hotgo.loop.crash_policy import CrashPolicy
from hotgo.loop.status_note import StatusNote
from hotgo.settings.schema import format_duration


class CrashRestarts:
    def __init__(self, history: BuildHistory, note: StatusNote, log: Log, clock: Callable[[], float],
                 after: Callable[[float, Callable[[], None]], Timer], restart: Callable[[Path], None]) -> None:
        self._policy = CrashPolicy()
        self._history = history
        self._note = note
        self._log = log
        self._clock = clock
        self._after = after
        self._restart = restart  # start a generation of this binary, if nothing else is starting
        self._timer: Optional[Timer] = None

    def crashed(self, generation: Generation, code: int) -> None:
        lived = self._clock() - generation.started
        verdict = self._policy.crashed(lived)
        what = (f"generation {generation.number} exited on its own ({describe_exit(code)}) "
                f"after {format_duration(lived)}")
        previous = self._history.before(generation.binary)
        if verdict.give_up and previous is not None:
            self._note.set(f"gave up on {generation.binary.name} after {verdict.streak} crashes in a row; "
                           f"rolled back to {previous.name}", {generation.binary, previous})
            self._log.error(f"{what}; {self._note.text}", event="gave_up", generation=generation.number)
            self._policy.reset()
            self._schedule(0, previous)
            return
        if verdict.loop:
            self._note.set(f"crash loop: {generation.binary.name} exited {verdict.streak} times in a row",
                           {generation.binary})
            self._log.error(
                f"crash loop: {what}, {verdict.streak} times in a row; restarting in "
                f"{format_duration(verdict.delay)} (save a fix to rebuild now)",
                event="crash_loop", generation=generation.number, code=code, streak=verdict.streak,
                restart_in=verdict.delay,
            )
        else:
            self._log.warn(f"{what}; restarting in {format_duration(verdict.delay)}", event="crashed",
                           generation=generation.number, code=code, streak=verdict.streak,
                           restart_in=verdict.delay)
        self._schedule(verdict.delay, generation.binary)

    def new_build(self) -> None:
        """A new build is about to start: no pending restart of the old one, and a fresh streak."""
        self.cancel()
        self._policy.reset()

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _schedule(self, delay: float, binary: Path) -> None:
        def restart() -> None:
            self._timer = None
            self._restart(binary)
        self._timer = self._after(delay, restart)
