"""Content hashes of the watched files: a change that changes no byte triggers nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Dict, Iterable, List, Optional

from hotgo.watch.filters import KUBELET_SWAP, PathFilter, WalkStats

_CHUNK = 1 << 16


def digest(path: Path) -> Optional[str]:
    """Hash of a file's content, None when it does not exist (or is not a file)."""
    hasher = hashlib.blake2b(digest_size=16)
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                hasher.update(chunk)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    except OSError:
        return "unreadable"  # permission flip etc.: treat as a change, go build will say more
    return hasher.hexdigest()


class Snapshot:
    def __init__(self, filters: Iterable[PathFilter]) -> None:
        self._filters = list(filters)
        self._hashes: Dict[Path, str] = {}

    def _filter_for(self, path: Path) -> Optional[PathFilter]:
        for candidate in self._filters:
            if path == candidate.root or candidate.root in path.parents:
                return candidate
        return None

    def scan(self, stats: Optional[WalkStats] = None) -> int:
        for path_filter in self._filters:
            for path in path_filter.walk(stats=stats):
                value = digest(path)
                if value is not None:
                    self._hashes[path] = value
        return len(self._hashes)

    def relevant(self, path: Path) -> bool:
        path_filter = self._filter_for(path)
        return path_filter is not None and path_filter.relevant(path)

    def covers_dir(self, path: Path) -> bool:
        path_filter = self._filter_for(path)
        return path_filter is not None and path_filter.covers_dir(path)

    def update(self, files: Iterable[Path], directories: Iterable[Path] = ()) -> List[Path]:
        """Re-hash the given paths; return the relevant ones whose content changed."""
        changed: List[Path] = []
        files = list(files)
        candidates = {path for path in files if self.relevant(path)}
        # A ConfigMap volume swap renames `..data`: the visible files (links through it) changed.
        swapped = [path.parent for path in files if path.name == KUBELET_SWAP]
        for directory in [*directories, *swapped]:
            candidates.update(self._files_under(directory))
        for path in sorted(candidates):
            value = digest(path)
            previous = self._hashes.get(path)
            if value == previous:
                continue
            if value is None:
                del self._hashes[path]
            else:
                self._hashes[path] = value
            changed.append(path)
        return changed

    def rescan(self) -> List[Path]:
        """Re-walk every root (events were lost): the relevant files whose content changed."""
        return self.update((), [path_filter.root for path_filter in self._filters])

    def _files_under(self, directory: Path) -> List[Path]:
        """Known files below a directory plus what is there now (dir created, moved, deleted)."""
        found = [p for p in self._hashes if directory in p.parents]
        path_filter = self._filter_for(directory)
        if path_filter is not None and directory.is_dir() and not path_filter.skips_dir(directory):
            found.extend(path_filter.walk(directory))
        return found
