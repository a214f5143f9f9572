"""Checks that need the file system (settings.py checks values alone): one line naming the fix, exit 2."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from hotgo.errors import UsageError


def check_watch_paths(paths: Sequence[str], root: Path, where: str) -> None:
    """Every `[watch] paths` entry is an existing directory (relative to the module root)."""
    for entry in paths:
        target = root / entry
        try:
            is_dir = target.is_dir()
            exists = is_dir or target.exists()
        except OSError as err:  # a symlink loop, a name too long
            raise UsageError(f"{where}: {entry!r}: {err.strerror}; fix or remove that entry") from None
        if not exists:
            raise UsageError(f"{where}: {entry!r} does not exist (relative to {root}); "
                             "create it or remove the entry")
        if not is_dir:
            raise UsageError(f"{where}: {entry!r} is a file; list directories here (files go in include)")
