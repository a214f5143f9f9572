"""Deadlines for the supervisor's loop: run `action` after `delay`, cancellable, on the loop's thread."""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional


@dataclass(order=True)
class Timer:
    deadline: float
    seq: int
    action: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Timers:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # a fake one in the scripted tests
        self._heap: List[Timer] = []
        self._seq = itertools.count()

    def after(self, delay: float, action: Callable[[], None]) -> Timer:
        timer = Timer(self._clock() + delay, next(self._seq), action)
        heapq.heappush(self._heap, timer)
        return timer

    def run_due(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0].deadline <= now:
            timer = heapq.heappop(self._heap)
            if not timer.cancelled:
                timer.action()

    def next_wait(self) -> Optional[float]:
        """Seconds until the next live deadline, None when there is none."""
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        return max(0.0, self._heap[0].deadline - self._clock())
