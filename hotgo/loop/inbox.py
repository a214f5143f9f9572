"""The loop's plumbing: one queue other threads post to, one heap of deadlines, one turn at a time."""

from __future__ import annotations

import queue
from typing import Callable, Optional

from hotgo.deadlines import Timer, Timers
from hotgo.loop.events import Event


class Inbox:
    def __init__(self, clock: Callable[[], float]) -> None:
        # Safe from signal handlers; None is an empty turn (`nudge`).
        self.events: queue.SimpleQueue[Optional[Event]] = queue.SimpleQueue()
        self.timers = Timers(clock)

    def post(self, event: Event) -> None:
        """From any thread (or a signal handler): the loop sees it on its next turn."""
        self.events.put(event)

    def nudge(self) -> None:
        """From any thread: the loop takes a turn with no event (a signal's handler runs then)."""
        self.events.put(None)

    def after(self, delay: float, action: Callable[[], None]) -> Timer:
        """On the loop only: run `action` on the loop once `delay` seconds have passed."""
        return self.timers.after(delay, action)

    def run(self, dispatch: Callable[[Event], None], done: Callable[[], bool]) -> None:
        while not done():
            try:
                event = self.events.get(timeout=self.timers.next_wait())
            except queue.Empty:
                event = None
            self.turn(dispatch, event)

    def turn(self, dispatch: Callable[[Event], None], event: Optional[Event]) -> None:
        """One turn: the event first, then every timer due by now."""
        if event is not None:
            dispatch(event)
        self.timers.run_due()
