"""One settled burst of file changes: what the watcher hands to the loop."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import List, Tuple


@dataclass(frozen=True)
class ChangeSet:
    paths: Tuple[Path, ...]
    first_event: float  # time.monotonic() of the burst's first event
    settled: float  # when the burst was taken: a write was closed, it went quiet, or hit max_wait
    hashed: float = 0.0  # when its files had been re-hashed
    early: bool = False  # taken at a closed write, without waiting for the settle time

    @property
    def settle_seconds(self) -> float:
        return self.settled - self.first_event

    @property
    def hash_seconds(self) -> float:
        return max(0.0, self.hashed - self.settled)

    def names(self, root: Path) -> List[str]:
        """The paths as a user knows them: relative to the module root where they are under it."""
        shown = []
        for path in self.paths:
            try:
                shown.append(path.relative_to(root).as_posix())
            except ValueError:
                shown.append(str(path))
        return shown
