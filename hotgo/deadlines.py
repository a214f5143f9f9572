"""Deadlines for the supervisor's loop: run `action` after `delay`, cancellable, on the loop's thread.

A cancelled or fired timer lets go of its action at once: an action holds what it acts on (a
generation, its process and pipe), and a cancelled ready timeout would otherwise keep a stopped
generation alive until its deadline. Cancelled timers leave the heap when they reach its top, or
all at once when they pile up (a daemon that reloads every second for a day cancels ~100,000).
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional

COMPACT_AT = 64  # heap entries before cancelled ones are swept out (then twice the live ones)


@dataclass(order=True)
class Timer:
    deadline: float
    seq: int
    action: Optional[Callable[[], None]] = field(compare=False)  # None once cancelled or run

    @property
    def cancelled(self) -> bool:
        return self.action is None

    def cancel(self) -> None:
        self.action = None


class Timers:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock  # a fake one in the scripted tests
        self._heap: List[Timer] = []
        self._seq = itertools.count()
        self._compact_at = COMPACT_AT

    def __len__(self) -> int:
        """Entries in the heap, cancelled ones not yet swept out included."""
        return len(self._heap)

    def after(self, delay: float, action: Callable[[], None]) -> Timer:
        if len(self._heap) >= self._compact_at:
            self._heap = [t for t in self._heap if t.action is not None]
            heapq.heapify(self._heap)
            self._compact_at = max(COMPACT_AT, 2 * len(self._heap))
        timer = Timer(self._clock() + delay, next(self._seq), action)
        heapq.heappush(self._heap, timer)
        return timer

    def run_due(self) -> None:
        now = self._clock()
        while self._heap and self._heap[0].deadline <= now:
            timer = heapq.heappop(self._heap)
            action, timer.action = timer.action, None
            if action is not None:
                action()

    def next_wait(self) -> Optional[float]:
        """Seconds until the next live deadline, None when there is none."""
        while self._heap and self._heap[0].action is None:
            heapq.heappop(self._heap)
        if not self._heap:
            return None
        return max(0.0, self._heap[0].deadline - self._clock())
