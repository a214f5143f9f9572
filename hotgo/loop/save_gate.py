"""A finished build is shown or served only once no event of the same save can still be coming.

So the build of a half-written file, or of one that gofmt-on-save rewrites, is never shown or
served. The check runs once the watcher is quiet (or `max_wait` after the build ended); the
release is then queued behind whatever change the watcher posted meanwhile, which drops the
held build (`drop`) before its release runs.
"""

from __future__ import annotations

from typing import Callable, Optional

from hotgo.build.go_build import BuildResult
from hotgo.deadlines import Timer
from hotgo.loop.events import Deferred, Event

# The watcher's clock reading at which it will have been quiet long enough; None: a change is coming.
QuietAt = Callable[[], Optional[float]]


class SaveGate:
    def __init__(self, quiet_at: QuietAt, settle: float, max_wait: float, clock: Callable[[], float],
                 after: Callable[[float, Callable[[], None]], Timer], post: Callable[[Event], None]) -> None:
        self._quiet_at = quiet_at
        self._settle = settle
        self._max_wait = max_wait
        self._clock = clock
        self._after = after
        self._post = post
        self.held: Optional[BuildResult] = None

    def hold(self, result: BuildResult, ended: float, release: Callable[[BuildResult], None]) -> None:
        """Keep `result` until its save is over, then `release` it on the loop."""
        self.held = result
        self._check(result, ended, release)

    def drop(self) -> Optional[BuildResult]:
        """A newer change arrived: the held build is never shown. Returns what was held."""
        held, self.held = self.held, None
        return held

    def _check(self, result: BuildResult, ended: float, release: Callable[[BuildResult], None]) -> None:
        if self.held is not result:
            return
        now = self._clock()
        quiet_at = self._quiet_at()
        if (quiet_at is None or quiet_at > now) and now - ended < self._max_wait:
            wait = self._settle / 4 if quiet_at is None else quiet_at - now
            self._after(max(wait, 0.001), lambda: self._check(result, ended, release))
            return
        self._post(Deferred(lambda: self._release(result, release)))

    def _release(self, result: BuildResult, release: Callable[[BuildResult], None]) -> None:
        if self.held is result:
            self.held = None
            release(result)
