"""Watch the module tree and turn bursts of file events into one change set.

Only the event kinds hotgo uses are subscribed (DESIGN §4: open/close-nowrite
events make a big tree's registration loop on itself). The root is watched
without recursion and each top-level directory that is not excluded gets its
own recursive watch, so `node_modules/` or `vendor/` at the top cost nothing.
"""

from __future__ import annotations

import errno
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

from watchdog.events import (
    DirCreatedEvent,
    DirDeletedEvent,
    DirMovedEvent,
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.polling import PollingObserver

from hotgo.filters import PathFilter
from hotgo.log import Log
from hotgo.snapshot import Snapshot

_EVENTS: List[type] = [
    FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]


@dataclass(frozen=True)
class ChangeSet:
    paths: Tuple[Path, ...]
    first_event: float  # time.monotonic() of the burst's first event
    settled: float  # when the burst went quiet (or hit max_wait)

    @property
    def settle_seconds(self) -> float:
        return self.settled - self.first_event


class _Collector(FileSystemEventHandler):
    """Runs on the observer thread: record paths, never raise."""

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._watcher.record(event)
        except Exception as err:  # a handler error must never kill the observer silently
            self._watcher.log.error(f"watch: error handling {event!r}: {err}")


class Watcher:
    def __init__(
        self,
        filters: List[PathFilter],
        settle: float,
        max_wait: float,
        poll: bool,
        on_change: Callable[[ChangeSet], None],
        log: Log,
    ) -> None:
        self.filters = filters
        self.settle = settle
        self.max_wait = max_wait
        self.poll = poll
        self.on_change = on_change
        self.log = log
        self.snapshot = Snapshot(filters)
        self._observer: Any = None
        self._handler = _Collector(self)
        self._watches: Dict[Path, Any] = {}
        self._cond = threading.Condition()
        self._files: Set[Path] = set()
        self._dirs: Set[Path] = set()
        self._first = 0.0
        self._last = 0.0
        self._stopped = False
        self._thread = threading.Thread(target=self._settle_loop, name="hotgo-settle", daemon=True)

    # -- setup ---------------------------------------------------------------
    def start(self) -> None:
        self.snapshot.scan()
        self._observer = PollingObserver(timeout=0.5) if self.poll else Observer()
        for path_filter in self.filters:
            self._watch_root(path_filter)
        self._observer.start()
        self._thread.start()

    def _watch_root(self, path_filter: PathFilter) -> None:
        root = path_filter.root
        self._schedule(root, recursive=False)
        for child in sorted(root.iterdir()):
            if child.is_dir() and not child.is_symlink() and not path_filter.skips_dir(child):
                self._schedule(child, recursive=True)

    def _schedule(self, directory: Path, recursive: bool) -> None:
        old = self._watches.pop(directory, None)
        if old is not None:
            try:
                self._observer.unschedule(old)
            except (KeyError, OSError):
                pass
        try:
            self._watches[directory] = self._observer.schedule(
                self._handler, str(directory), recursive=recursive, event_filter=_EVENTS
            )
        except OSError as err:
            if err.errno in (errno.ENOSPC, errno.EMFILE) and not self.poll:
                self.log.warn(
                    f"watch: the inotify limit is reached ({err.strerror}); raise it with "
                    "`sudo sysctl fs.inotify.max_user_watches=524288` (and "
                    "fs.inotify.max_user_instances=1024). Falling back to polling."
                )
                self._fall_back_to_polling()
                return
            if err.errno == errno.ENOENT:
                return  # deleted meanwhile; its parent's watch will see it come back
            raise

    def _fall_back_to_polling(self) -> None:
        old = self._observer
        self.poll = True
        self._watches.clear()
        self._observer = PollingObserver(timeout=0.5)
        for path_filter in self.filters:
            self._watch_root(path_filter)
        self._observer.start()
        try:
            old.stop()
        except Exception:
            pass

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()

    # -- observer thread -------------------------------------------------------
    def _top_level_dir(self, path: Path) -> Optional[PathFilter]:
        for path_filter in self.filters:
            if path.parent == path_filter.root:
                return path_filter
        return None

    def record(self, event: FileSystemEvent) -> None:
        paths = [Path(str(event.src_path))]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(Path(str(dest)))
        if event.is_directory:
            for path in paths:
                self._track_top_level_dir(path, event)
        with self._cond:
            now = time.monotonic()
            if not self._files and not self._dirs:
                self._first = now
            self._last = now
            (self._dirs if event.is_directory else self._files).update(paths)
            self._cond.notify_all()

    def _track_top_level_dir(self, path: Path, event: FileSystemEvent) -> None:
        """A top-level directory came or went: (re)schedule its recursive watch."""
        path_filter = self._top_level_dir(path)
        if path_filter is None or path_filter.skips_dir(path):
            return
        if path.is_dir():
            if path not in self._watches or isinstance(event, (DirCreatedEvent, DirMovedEvent)):
                self._schedule(path, recursive=True)
        elif path in self._watches:
            old = self._watches.pop(path)
            try:
                self._observer.unschedule(old)
            except (KeyError, OSError):
                pass

    # -- settle thread ---------------------------------------------------------
    def _settle_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not (self._files or self._dirs):
                    self._cond.wait()
                if self._stopped:
                    return
                # Quiet for `settle`, or `max_wait` since the burst began.
                while not self._stopped:
                    now = time.monotonic()
                    quiet_at = self._last + self.settle
                    cap_at = self._first + self.max_wait
                    deadline = min(quiet_at, cap_at)
                    if now >= deadline:
                        break
                    self._cond.wait(deadline - now)
                if self._stopped:
                    return
                files, dirs = self._files, self._dirs
                self._files, self._dirs = set(), set()
                first, settled = self._first, time.monotonic()
            try:
                changed = self.snapshot.update(files, dirs)
            except Exception as err:
                self.log.error(f"watch: could not read changed files: {err}")
                continue
            if changed:
                self.on_change(ChangeSet(tuple(changed), first, settled))
