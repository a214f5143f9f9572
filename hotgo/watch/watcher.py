"""Watch the module tree and turn bursts of file events into one change set.

Only the event kinds hotgo uses are subscribed (open/close-nowrite events make a
big tree's registration loop on itself; docs/architecture.md, "The pipeline").

Which directories get which kind of watch is planned in watch_plan.py (a big
excluded directory such as node_modules/ costs no inotify watch).

If the kernel's inotify queue overflows (fs.inotify.max_queued_events), events
are lost and watchdog tells no handler, so hotgo hooks the overflow
(observers.py), re-plans its watches and rescans every file (content hashes:
only a real change rebuilds).
"""

from __future__ import annotations

import errno
import threading
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set

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
from watchdog.observers.polling import PollingObserver

from hotgo import platform
from hotgo.log import Log
from hotgo.watch.change_set import ChangeSet
from hotgo.watch.filters import KUBELET_SWAP, PathFilter, WalkStats
from hotgo.watch.fingerprints import Snapshot
from hotgo.watch.observers import READDS_WATCHES_AFTER_OVERFLOW, inotify_watch_count, native_observer
from hotgo.watch.watch_plan import big_skipped, plan, split_points, subdirectories

_EVENTS: List[type] = [
    FileCreatedEvent, FileModifiedEvent, FileClosedEvent, FileDeletedEvent, FileMovedEvent,
    DirCreatedEvent, DirDeletedEvent, DirMovedEvent,
]

# macOS: a new FSEvents stream also reports recent changes made *before* it started
# (fseventsd keeps a history; libuv and .NET hit the same). The content hashes already
# turn such replays into no-ops, but a replayed directory event re-plans watches, so for
# the first _REPLAY_WINDOW seconds an event is dropped when every path it names was last
# changed (mtime and ctime) before the initial scan began, less _CLOCK_SLACK for coarse
# (HFS+: 1 s) timestamps. Price: within that window, a rename that keeps an old ctime
# would be missed; a deleted path is never dropped.
_REPLAY_WINDOW = 2.0
_CLOCK_SLACK = 1.0


class _Collector(FileSystemEventHandler):
    """Runs on the observer thread: record paths, never raise."""

    def __init__(self, watcher: Watcher) -> None:
        self._watcher = watcher

    def on_any_event(self, event: FileSystemEvent) -> None:
        try:
            self._watcher.record(event)
        except Exception as err:  # a handler error must never kill the observer silently
            self._watcher.log.error(f"watch: error handling {event!r}: {err}", event="watch_error")


class Watcher:
    def __init__(
        self,
        filters: List[PathFilter],
        settle: float,
        max_wait: float,
        poll: bool,
        on_change: Callable[[ChangeSet], None],
        log: Log,
        builds_early: Callable[[Path], bool] = lambda path: True,
    ) -> None:
        self.filters = filters
        self.builds_early = builds_early  # a closed write of this file may end its burst at once
        self.settle = settle
        self.max_wait = max_wait
        self.poll = poll
        self.on_change = on_change
        self.log = log
        self.snapshot = Snapshot(filters)
        self._observer: Any = None
        self._handler = _Collector(self)
        self._watches: Dict[Path, Any] = {}
        self._alone: Dict[Path, PathFilter] = {}  # directories watched without recursion
        self._plan_lock = threading.RLock()
        self._cond = threading.Condition()
        self._files: Set[Path] = set()
        self._dirs: Set[Path] = set()
        self._rescan = False
        self._first = 0.0
        self._last = 0.0
        self._written = False  # a write to a relevant file was closed in this burst
        self._quiet_before = True  # the burst began at least `settle` after the previous event
        self._processing = False  # a burst taken, its change not yet handed on
        self._stopped = False
        self._thread = threading.Thread(target=self._settle_loop, name="hotgo-settle", daemon=True)
        self._scan_began = 0.0  # time.time() when the initial scan began
        self._replay_until = 0.0  # monotonic; darwin: drop replayed history until then

    # -- setup ---------------------------------------------------------------
    def start(self) -> None:
        began = time.monotonic()
        self._scan_began = time.time()
        stats = WalkStats()
        files = self.snapshot.scan(stats)
        self._observer = PollingObserver(timeout=0.5) if self.poll else native_observer(self._overflowed)
        with self._plan_lock:
            for path_filter in self.filters:
                self._watch_tree(path_filter, path_filter.root, split_points(stats.skipped), root=True)
        try:
            self._observer.start()  # starts the emitters: their watches exist when this returns
        except OSError as err:  # inotify adds the watches of a recursive schedule here
            if not self._limit_reached(err):
                raise
        if platform.CAPABILITIES.watch_replays_history and not self.poll:
            self._replay_until = time.monotonic() + _REPLAY_WINDOW
        watches = None if self.poll else inotify_watch_count()
        if watches is not None and watches < stats.directories:
            # watchdog swallows ENOSPC below a recursive watch's root: fewer watches than
            # directories means the limit cut the tree short, so those parts would be blind.
            self._limit_reached(OSError(errno.ENOSPC, f"{watches} of {stats.directories} directories watched"))
            watches = None
        self._thread.start()
        how = "polling" if self.poll else (
            f"{watches} inotify watches" if watches is not None else f"{len(self._watches)} watches")
        self.log.info(f"watching {files} files in {stats.directories} directories ({how}) "
                      f"in {time.monotonic() - began:.2f}s", event="watching", files=files,
                      directories=stats.directories, inotify_watches=watches)

    def _watch_tree(self, path_filter: PathFilter, directory: Path, split: Set[Path], root: bool = False) -> None:
        """Watch `directory` and its non-excluded subdirectories according to the plan."""
        for planned, recursive in plan(path_filter, directory, split, root):
            if not recursive:
                self._alone[planned] = path_filter
            self._schedule(planned, recursive)

    def _schedule(self, directory: Path, recursive: bool) -> None:
        self._unschedule(directory)
        try:
            self._watches[directory] = self._observer.schedule(
                self._handler, str(directory), recursive=recursive, event_filter=_EVENTS
            )
        except OSError as err:
            if self._limit_reached(err):
                return
            if err.errno == errno.ENOENT:
                return  # deleted meanwhile; its parent's watch will see it come back
            raise

    def _unschedule(self, directory: Path) -> None:
        old = self._watches.pop(directory, None)
        if old is not None:
            try:
                self._observer.unschedule(old)
            except (KeyError, OSError):
                pass

    def _unschedule_tree(self, directory: Path) -> None:
        for path in [p for p in self._watches if p == directory or directory in p.parents]:
            self._unschedule(path)
        for path in [p for p in self._alone if p == directory or directory in p.parents]:
            del self._alone[path]

    def _limit_reached(self, err: OSError) -> bool:
        """An inotify limit: say which sysctl raises it and keep watching by polling."""
        if err.errno not in (errno.ENOSPC, errno.EMFILE) or self.poll:
            return False
        self.log.warn(
            f"watch: the inotify limit is reached ({err.strerror}); raise it with "
            "`sudo sysctl fs.inotify.max_user_watches=524288` (and "
            "fs.inotify.max_user_instances=1024). Falling back to polling.", event="watch_limit"
        )
        self._fall_back_to_polling()
        return True

    def _fall_back_to_polling(self) -> None:
        old = self._observer
        self.poll = True
        self._watches.clear()
        self._alone.clear()
        self._observer = PollingObserver(timeout=0.5)
        for path_filter in self.filters:
            self._watch_tree(path_filter, path_filter.root, split_points(big_skipped(path_filter)),
                             root=True)
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

    # -- observer threads -----------------------------------------------------
    def record(self, event: FileSystemEvent) -> None:
        paths = [Path(str(event.src_path))]
        dest = getattr(event, "dest_path", "")
        if dest:
            paths.append(Path(str(dest)))
        if self._replay_until and time.monotonic() < self._replay_until and self._replayed(paths):
            return
        if event.is_directory:
            for path in paths:
                self._track_dir(path, event)
            paths = [p for p in paths if self.snapshot.covers_dir(p)]
        else:
            # Only what can rebuild counts: a log file the service writes next to its code
            # must not keep the settle window open (every save would wait max_wait).
            paths = [p for p in paths if p.name == KUBELET_SWAP or self.snapshot.relevant(p)]
        if not paths:
            return
        # The writer is done with the file (closed after writing, or renamed into place):
        # its content is whole, so the build can start without waiting for quiet.
        whole = (isinstance(event, FileClosedEvent) or (
            isinstance(event, FileMovedEvent) and paths[-1] == Path(str(dest)))) and self.builds_early(paths[-1])
        with self._cond:
            self._note_activity()
            (self._dirs if event.is_directory else self._files).update(paths)
            if whole:
                self._written = True
            self._cond.notify_all()

    def _note_activity(self) -> None:
        """Under self._cond: a burst begins (or goes on) now."""
        now = time.monotonic()
        if not self._files and not self._dirs and not self._rescan:
            self._first = now
            self._quiet_before = now - self._last >= self.settle
        self._last = now

    def quiet_at(self) -> Optional[float]:
        """None while a burst is pending or being hashed and posted; else when the latest
        relevant event is `settle` old (monotonic). Until then another event of the same
        save may still come (gofmt-on-save, editor renames)."""
        with self._cond:
            if self._files or self._dirs or self._rescan or self._processing:
                return None
            return self._last + self.settle

    def _replayed(self, paths: List[Path]) -> bool:
        """darwin: every path was last changed before the initial scan (FSEvents history)."""
        before = self._scan_began - _CLOCK_SLACK
        for path in paths:
            try:
                info = path.lstat()
            except OSError:
                return False
            if info.st_mtime >= before or info.st_ctime >= before:
                return False
        return True

    def _track_dir(self, path: Path, event: FileSystemEvent) -> None:
        """A directory below one watched alone came or went: (re)plan its watches."""
        with self._plan_lock:
            path_filter = self._alone.get(path.parent)
            if path_filter is None or path_filter.skips_dir(path):
                return
            if path.is_dir():
                if path not in self._watches or isinstance(event, (DirCreatedEvent, DirMovedEvent)):
                    self._unschedule_tree(path)
                    self._watch_tree(path_filter, path, split_points(big_skipped(path_filter, path)))
            else:
                self._unschedule_tree(path)

    def _overflowed(self) -> None:
        """inotify thread: the kernel dropped events; the settle thread rescans everything."""
        self.log.warn("watch: the inotify event queue overflowed, events were lost: rescanning "
                      "(raise fs.inotify.max_queued_events if this repeats)", event="watch_overflow")
        with self._cond:
            self._note_activity()
            self._rescan = True
            self._cond.notify_all()

    def _replan(self) -> None:
        """After lost events: watch directories that appeared, drop those that vanished."""
        with self._plan_lock:
            for directory in [d for d in self._watches if not d.is_dir()]:
                self._unschedule_tree(directory)
            if not self.poll and not READDS_WATCHES_AFTER_OVERFLOW:
                for directory in [d for d in self._watches if d not in self._alone]:
                    self._schedule(directory, recursive=True)  # watches the subdirectories it missed
            for directory, path_filter in list(self._alone.items()):
                for child in subdirectories(directory):
                    if child not in self._watches and not path_filter.skips_dir(child):
                        self._watch_tree(path_filter, child,
                                         split_points(big_skipped(path_filter, child)))

    # -- settle thread ---------------------------------------------------------
    def _settle_loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and not (self._files or self._dirs or self._rescan):
                    self._cond.wait()
                if self._stopped:
                    return
                # A closed write after a quiet spell starts at once; the rest of that save's
                # events (and storms) wait until quiet for `settle`, or `max_wait`.
                while not self._stopped and not (self._written and self._quiet_before):
                    now = time.monotonic()
                    quiet_at = self._last + self.settle
                    cap_at = self._first + self.max_wait
                    deadline = min(quiet_at, cap_at)
                    if now >= deadline:
                        break
                    self._cond.wait(deadline - now)
                if self._stopped:
                    return
                files, dirs, rescan = self._files, self._dirs, self._rescan
                early = self._written and self._quiet_before
                self._files, self._dirs, self._rescan, self._written = set(), set(), False, False
                self._processing = True
                first, settled = self._first, time.monotonic()
            try:
                self._hand_on(files, dirs, rescan, first, settled, early)
            finally:
                with self._cond:
                    self._processing = False

    def _hand_on(self, files: Set[Path], dirs: Set[Path], rescan: bool, first: float, settled: float,
                 early: bool) -> None:
        try:
            if rescan:
                self._replan()
                changed = sorted(set(self.snapshot.update(files, dirs)) | set(self.snapshot.rescan()))
            else:
                changed = self.snapshot.update(files, dirs)
        except Exception as err:
            self.log.error(f"watch: could not read changed files: {err}", event="watch_error")
            return
        if changed:
            self.on_change(ChangeSet(tuple(changed), first, settled, time.monotonic(), early))
