"""The serving generation's binary stays startable: a deleted file is said and put back, or replaced.

The process keeps serving when its binary's file is deleted; what breaks is the next start of that
binary by path (a crash restart, a `restart` config push). So hotgo holds the serving binary open
(build/kept_binary.py), looks at its path every CHECK_EVERY, and when the name is gone says so
(`binary_missing`) and writes the same bytes back. Before a restart it looks again: a binary that
cannot be put back is not started (it would fail as "not found"); the caller builds (or, in
artifact mode, deploys) a new one instead, and says so.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from hotgo.build.kept_binary import KeptBinary
from hotgo.deadlines import Timer
from hotgo.handoff.generation import Generation
from hotgo.log import Log

CHECK_EVERY = 1.0  # seconds between two looks at the serving binary's path (a stat)


class ServingBinary:
    def __init__(self, log: Log, after: Callable[[float, Callable[[], None]], Timer],
                 serving: Callable[[], Optional[Generation]], artifact: Optional[Path]) -> None:
        self._log = log
        self._after = after
        self._serving = serving  # the live serving generation, if any
        self._instead = f"deploying {artifact} again" if artifact is not None else "rebuilding"
        self._kept = KeptBinary()
        self._said: Optional[Path] = None  # a binary whose loss was said (and could not be undone)
        self._timer: Optional[Timer] = None

    def serving_now(self, generation: Generation) -> None:
        """`generation` is ready and serves: hold its binary, and look at its path from now on."""
        self._kept.keep(generation.binary)
        self._said = None
        if self._timer is None:
            self._timer = self._after(CHECK_EVERY, self._look)

    def _look(self) -> None:
        self._timer = self._after(CHECK_EVERY, self._look)
        serving = self._serving()
        if serving is None or serving.binary != self._kept.path or not self._kept.missing():
            return
        if self._said == serving.binary:
            return  # said already: it could not be put back, a restart will replace it
        why = self._kept.restore()
        what = f"the binary of generation {serving.number} ({serving.binary}) was deleted; the process keeps serving"
        if not why:
            self._log.warn(f"{what}; hotgo put the file back from the copy it holds open", event="binary_missing",
                           generation=serving.number, binary=str(serving.binary), restored=True)
            return
        self._said = serving.binary
        self._log.warn(f"{what}; hotgo cannot put it back ({why}): a restart will mean {self._instead}",
                       event="binary_missing", generation=serving.number, binary=str(serving.binary),
                       restored=False)

    def startable(self, binary: Path, otherwise: str = "") -> bool:
        """Before `binary` is started again (a crash restart, a `restart` config push): its file is
        there, put back if need be. False when it cannot be, said with `otherwise` (what the caller
        does instead; by default it builds, or deploys, a new one)."""
        if binary.is_file():
            return True
        why = self._kept.restore() if binary == self._kept.path else "hotgo holds no copy of it"
        if not why:
            self._log.warn(f"{binary} was deleted; hotgo put it back from the copy it holds open to start it again",
                           event="binary_missing", binary=str(binary), restored=True)
            return True
        self._log.warn(f"cannot start {binary} again: it is gone and hotgo cannot put it back ({why}); "
                       f"{otherwise or self._instead}", event="binary_missing", binary=str(binary), restored=False)
        return False

    def stop(self) -> None:
        """hotgo stops: no more looks, the handle closed."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._kept.close()
