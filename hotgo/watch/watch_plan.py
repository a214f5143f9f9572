"""Which directories get which kind of watch: the plan, apart from the watching.

watchdog's inotify emitter watches a directory either alone or with everything below
it (one inotify watch per directory); it cannot leave out a subdirectory, and each
scheduled watch costs an emitter thread, so one watch per directory (10,000 threads
for a big tree) is not affordable either. hotgo therefore watches the root alone, and
every other directory recursively unless an excluded directory worth avoiding lies
below it: then that directory is watched alone and its subdirectories are planned the
same way. "Worth avoiding" means at least SPLIT_AT subdirectories (node_modules,
vendor); a small excluded directory such as a package's testdata/ costs a few watches,
which is cheaper than the extra emitter threads. So a node_modules/ at any depth
present at start costs no watch. Limitation: a big excluded directory created later
*inside* a recursively watched directory (npm install in web/ while hotgo runs) is
watched by watchdog's recursive emitter until hotgo restarts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, List, Optional, Set, Tuple

from hotgo.watch.filters import PathFilter, WalkStats

# An excluded directory with at least this many subdirectories is kept out of
# the inotify watches at the price of extra (non-recursive) scheduled watches.
SPLIT_AT = 32


def plan(path_filter: PathFilter, directory: Path, split: Set[Path], root: bool = False
         ) -> Iterator[Tuple[Path, bool]]:
    """(directory, recursive) for each watch `directory` needs under `path_filter`."""
    if not root and directory not in split:
        yield directory, True
        return
    yield directory, False
    for child in subdirectories(directory):
        if not path_filter.skips_dir(child):
            yield from plan(path_filter, child, split)


def split_points(skipped: List[Path]) -> Set[Path]:
    """Directories to watch alone: the ancestors of the big excluded directories."""
    split: Set[Path] = set()
    for directory in skipped:
        if has_many_subdirectories(directory, SPLIT_AT):
            split.update(directory.parents)
    return split


def big_skipped(path_filter: PathFilter, start: Optional[Path] = None) -> List[Path]:
    """The excluded directories a walk of `path_filter` (from `start`) passes over."""
    stats = WalkStats()
    for _ in path_filter.walk(start, stats):
        pass
    return stats.skipped


def subdirectories(directory: Path) -> List[Path]:
    try:
        with os.scandir(directory) as scan:
            return sorted(Path(e.path) for e in scan if e.is_dir(follow_symlinks=False))
    except OSError:
        return []


def has_many_subdirectories(directory: Path, limit: int) -> bool:
    """At least `limit` directories below `directory` (stops counting there)."""
    stack, found = [str(directory)], 0
    while stack:
        try:
            with os.scandir(stack.pop()) as scan:
                for entry in scan:
                    if entry.is_dir(follow_symlinks=False):
                        found += 1
                        if found >= limit:
                            return True
                        stack.append(entry.path)
        except OSError:
            continue
    return False
