"""What a generator wrote: the files under the module root that changed bytes while it ran.

A generator says nothing of what it writes, and many rewrite every output on each run; only a change of
content may cost a build. `ContentIndex` keeps, per file, its (size, mtime_ns, inode) and the sha256 of its
bytes, and hashes again only the files whose stat changed: a snapshot of a tree hashed once costs a walk
and a stat per file.

A file's mtime has a granularity (a clock tick on Linux, 2 s on FAT): a file written in the same tick
as the scan that hashed it could be written again, with the same size, and keep its stat. Such a file
("racy", as git calls it) is hashed again by the next scan instead of trusted.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Mapping, NamedTuple, Optional, Sequence, Tuple

from hotgo.watch.filters import PathFilter

# Never generated code that a build reads, and large: not scanned.
SKIPPED_DIRS = (".git/", ".hg/", ".svn/", ".hotgo/", "node_modules/", "vendor/")
RACY_NS = 2_000_000_000  # the coarsest mtime granularity met (FAT); a stat this fresh is not trusted
UNREADABLE = b""  # the "digest" of a file that cannot be read: equal to itself, unequal to any content
_CHUNK = 1 << 16


class Entry(NamedTuple):
    size: int
    mtime_ns: int
    inode: int
    digest: bytes
    racy: bool  # written too close to the scan that hashed it: its stat proves nothing yet


@dataclass(frozen=True)
class Snapshot:
    """The index at one moment (the dict is a copy; its entries are shared, never changed)."""

    entries: Mapping[str, Entry]


@dataclass(frozen=True)
class ContentDiff:
    changed: Tuple[Path, ...]  # created, deleted, or other bytes
    rewritten: Tuple[Path, ...]  # written again with the same bytes: no change, but the watcher will see a write


def file_digest(path: str) -> Optional[bytes]:
    """sha256 of a file's bytes; None when there is no such file, UNREADABLE when it cannot be read."""
    hasher = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None
    except OSError:
        return UNREADABLE
    return hasher.digest()


class ContentIndex:
    """sha256 per file of a scope (a PathFilter: its root, include globs and skipped directories)."""

    def __init__(self, scope: PathFilter) -> None:
        self.scope = scope
        self._entries: Dict[str, Entry] = {}
        self._lock = threading.Lock()  # a scan at a time (a step's thread; tests)
        self.hashed = 0  # files hashed by the last scan (the rest kept their stat): for tests and the report

    @classmethod
    def for_root(cls, root: Path, include: Sequence[str] = ("**",), skip: Sequence[str] = SKIPPED_DIRS
                 ) -> ContentIndex:
        """Every file under `root` but in `skip` directories (and editor temp files)."""
        return cls(PathFilter(root, include, skip))

    def __len__(self) -> int:
        return len(self._entries)

    def snapshot(self) -> Snapshot:
        """Scan now and keep the result: call before a step runs."""
        with self._lock:
            self._scan()
            return Snapshot(dict(self._entries))

    def diff(self, before: Snapshot) -> ContentDiff:
        """Scan now and compare with `before`: what changed bytes, and what was written with the same ones."""
        with self._lock:
            self._scan()
            now = self._entries
        changed = [name for name in before.entries.keys() - now.keys()]  # deleted
        rewritten = []
        for name, entry in now.items():
            old = before.entries.get(name)
            if old is None or old.digest != entry.digest:
                changed.append(name)
            elif (old.size, old.mtime_ns, old.inode) != (entry.size, entry.mtime_ns, entry.inode):
                rewritten.append(name)
        return ContentDiff(tuple(Path(name) for name in sorted(changed)),
                           tuple(Path(name) for name in sorted(rewritten)))

    def changes_since(self, before: Snapshot) -> Tuple[Path, ...]:
        """The files created, deleted or given other bytes since `before` (a same-bytes rewrite is none)."""
        return self.diff(before).changed

    def digest(self, path: Path) -> Optional[bytes]:
        """The hash the last scan found for `path` (None: not in the scope, or not there)."""
        entry = self._entries.get(str(path))
        return entry.digest if entry is not None else None

    def _scan(self) -> None:
        started = time.time_ns()
        fresh: Dict[str, Entry] = {}
        hashed = 0
        for file in self.scope.walk_entries():
            name = file.path
            try:
                stat = file.stat()  # follows a symlink, as a build reading the file does
            except OSError:
                continue  # gone since the walk saw it
            old = self._entries.get(name)
            if old is not None and not old.racy and (old.size, old.mtime_ns, old.inode) == (
                    stat.st_size, stat.st_mtime_ns, stat.st_ino):
                fresh[name] = old
                continue
            digest = file_digest(name)
            hashed += 1
            if digest is None:
                continue
            fresh[name] = Entry(stat.st_size, stat.st_mtime_ns, stat.st_ino, digest,
                                racy=stat.st_mtime_ns >= started - RACY_NS)
        self._entries = fresh
        self.hashed = hashed
