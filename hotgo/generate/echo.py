"""The watcher's echo of a step: the files a generator wrote reach hotgo again as file events a few ms
later. They are already accounted for (the step's result routes them to a build), so a second build,
or a second round of generation, must not follow.

A reported path is an echo while its bytes are still those the step left (or it is still gone, for a
file the step deleted). A path whose bytes differ was changed since by someone else: it is kept, and
its record dropped. Records last `ttl` seconds: the watcher may report one write in two bursts (the
file created, then its last bytes), so a record is not spent by the first report.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from hotgo.generate.content import file_digest

ECHO_TTL = 5.0  # far beyond a watcher's settle time; short enough that a later edit is never mistaken


class Echoes:
    """What the steps last wrote, to recognise the watcher's reports of it. Safe to use from two threads
    (a step's thread records, the loop filters)."""

    def __init__(self, ttl: float = ECHO_TTL, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._expected: Dict[Path, Tuple[Optional[bytes], float]] = {}  # path -> (digest after the step, until)

    def expect(self, written: Mapping[Path, Optional[bytes]]) -> None:
        """Record what a step left: each file's sha256 after it ran (None: the step deleted it)."""
        until = self._clock() + self.ttl
        with self._lock:
            for path, digest in written.items():
                self._expected[path] = (digest, until)

    def filter(self, paths: Iterable[Path]) -> Tuple[Tuple[Path, ...], Tuple[Path, ...]]:
        """(kept, dropped): the reported paths that are news, and the echoes of a step's writes."""
        now = self._clock()
        kept: List[Path] = []
        dropped: List[Path] = []
        with self._lock:
            self._expire(now)
            for path in paths:
                expected = self._expected.get(path)
                if expected is None:
                    kept.append(path)
                elif file_digest(str(path)) == expected[0]:
                    dropped.append(path)
                else:
                    del self._expected[path]  # changed since the step: the user's edit, and later ones too
                    kept.append(path)
        return tuple(kept), tuple(dropped)

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._expected)

    def _expire(self, now: float) -> None:
        for path in [path for path, (_, until) in self._expected.items() if until <= now]:
            del self._expected[path]
