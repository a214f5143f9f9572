"""The first build of a run, started before the rest of hotgo is imported and wired.

A cold `hotgo run` spends 100 to 200 ms importing and setting up what only matters once a binary
exists (the loop, the watcher, the browser proxy, the control socket). Started first, the first
build runs meanwhile; the loop then adopts it as generation 1's build (hotgo/loop/builds.py)
and gets its result as if it had started it.
"""

from __future__ import annotations

import threading
from typing import Callable, Optional

from hotgo.build.go_build import Build, BuildResult

Deliver = Callable[[BuildResult], None]
ABANDON_WAIT = 5.0  # a killed go ends in milliseconds; this only bounds a go that hangs in D state


class HeadStart:
    def __init__(self, new_build: Callable[[Deliver], Build]) -> None:
        self._lock = threading.Lock()
        self._result: Optional[BuildResult] = None  # a result that came before the loop took the build
        self._deliver: Optional[Deliver] = None
        self._adopted = False
        self._ended = threading.Event()
        self.build = new_build(self._done)
        self.build.start()

    def adopt(self, on_done: Deliver) -> Build:
        """The loop takes the build over: its result goes to `on_done`, now if it is already there."""
        with self._lock:
            self._adopted = True
            self._deliver = on_done
            result, self._result = self._result, None
        if result is not None:
            on_done(result)
        return self.build

    def abandon(self, wait: float = ABANDON_WAIT) -> None:
        """hotgo exits before its loop ran (a port in use, a stop signal): no build left behind.
        Waits until go has been reaped, so that what it left (a killed linker) is the orphan
        reaper's to collect before hotgo exits."""
        with self._lock:
            adopted = self._adopted
        if not adopted:
            self.build.cancel()
            self._ended.wait(wait)

    def _done(self, result: BuildResult) -> None:
        self._ended.set()
        with self._lock:
            deliver = self._deliver
            if deliver is None:
                self._result = result
                return
        deliver(result)
