"""At `hotgo run`'s start: a copy of the Go helper in the module that differs from this hotgo's.

Where copies are looked for, cheaply: internal/hotgo (the default of `hotgo helper`) and a bounded
breadth-first walk of the module's directories (at most MAX_DEPTH levels and MAX_DIRECTORIES
directories, skipping what the go command skips and nested modules). The walk is what finds a copy
written to another DIR in a fresh clone, which a note in .hotgo/ (local, never committed) would
miss; the bounds keep it to about 10 ms on a 10,000-directory tree (0.1 ms on samples/api). In each
directory one file is read, and only its first line: a .go file whose name the helper also has.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Deque, List, Set, Tuple

from hotgo import __version__
from hotgo.helper.header import Origin, read_origin
from hotgo.helper.sources import HelperSources, find_installed_helper
from hotgo.helper.write import DEFAULT_DIR
from hotgo.log import Log

MAX_DEPTH = 5
MAX_DIRECTORIES = 1000
_SKIP = {"testdata", "vendor", "node_modules"}


@dataclass(frozen=True)
class OutdatedCopy:
    directory: Path
    origin: Origin


def outdated_copies(root: Path, helper: HelperSources) -> List[OutdatedCopy]:
    found: List[OutdatedCopy] = []
    for directory, name in _copies(root, set(helper.names)):
        origin = read_origin(directory / name)
        if origin is not None and origin.digest != helper.digest:
            found.append(OutdatedCopy(directory, origin))
    return found


def _copies(root: Path, names: Set[str]) -> List[Tuple[Path, str]]:
    """Directories that may hold a copy, each with the file to read: the first .go file whose name the
    helper also has. internal/hotgo first, then the bounded walk (one scandir a directory, no stat)."""
    default = root / DEFAULT_DIR
    found: List[Tuple[Path, str]] = []
    queue: Deque[Tuple[str, int]] = deque([(str(default), MAX_DEPTH), (str(root), 0)])
    visited = 0
    while queue and visited < MAX_DIRECTORIES:
        directory, depth = queue.popleft()
        if visited and directory == str(default):
            continue  # looked at first
        visited += 1
        try:
            with os.scandir(directory) as scan:
                entries = list(scan)
        except OSError:
            continue
        files = sorted(e.name for e in entries if e.name in names)
        if depth and any(e.name == "go.mod" for e in entries):
            continue  # a module of its own
        if files:
            found.append((Path(directory), files[0]))
        room = MAX_DIRECTORIES - visited - len(queue)
        if depth < MAX_DEPTH and room > 0:
            below = [e.path for e in sorted(entries, key=lambda e: e.name)
                     if not e.name.startswith((".", "_")) and e.name not in _SKIP and _is_directory(e)]
            queue.extend((path, depth + 1) for path in below[:room])
    return found


def _is_directory(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def warn_outdated(root: Path, cwd: Path, log: Log) -> None:
    """One warning per copy that differs from the installed helper, with the command that updates it."""
    helper = find_installed_helper()
    if helper is None:
        return
    for copy in outdated_copies(root, helper):
        where = os.path.relpath(copy.directory, cwd)
        command = "hotgo helper" if copy.directory == root / DEFAULT_DIR else f"hotgo helper {Path(where).as_posix()}"
        log.warn(f"{where} holds the Go helper of hotgo {copy.origin.version} (helper {copy.origin.digest}); "
                 f"this hotgo {__version__} carries helper {helper.digest}: update the copy with `{command}`",
                 event="helper_outdated", dir=Path(where).as_posix(), command=command)
