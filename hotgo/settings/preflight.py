"""Checks that need the file system (settings.py checks values alone): one line naming the fix, exit 2."""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path
from typing import Sequence

from hotgo import platform
from hotgo.errors import UsageError, shown

PLACEHOLDERS = ("{binary}", "{file}")  # filled in when a validate command runs


def check_watch_paths(paths: Sequence[str], root: Path, where: str) -> None:
    """Every `[watch] paths` entry is an existing directory (relative to the module root)."""
    for entry in paths:
        target = root / entry
        try:
            is_dir = target.is_dir()
            exists = is_dir or target.exists()
        except OSError as err:  # a symlink loop, a name too long
            raise UsageError(f"{where}: {shown(entry)}: {err.strerror}; fix or remove that entry") from None
        if not exists:
            raise UsageError(f"{where}: {shown(entry)} does not exist (relative to {root}); "
                             "create it or remove the entry")
        if not is_dir:
            raise UsageError(f"{where}: {shown(entry)} is a file; list directories here (files go in include)")


def check_validate_command(command: Sequence[str], cwd: Path, where: str) -> None:
    """A `[config] validate` command can run: its program is found, is a file, and may be executed. Known at
    start, so that a push is not first refused when a config file changes. A program named by a
    placeholder ({binary}: the serving build) exists only once built, and is looked at when it runs."""
    if not command or any(mark in command[0] for mark in PLACEHOLDERS):
        return
    program = command[0]
    said = shown(program)
    if not any(sep in program for sep in (os.sep, os.altsep or os.sep)):  # a bare name: looked up on PATH
        if shutil.which(program) is None:
            raise UsageError(f"{where}: {said} is not a program on PATH; install it, or give its path, "
                             "e.g. \"./bin/check-config {file}\"")
        return
    target = cwd / program
    try:
        mode = target.stat().st_mode
    except FileNotFoundError:
        raise UsageError(f"{where}: {said} does not exist (relative to {cwd}); build it first or fix the "
                         "path") from None
    except OSError as err:  # a name too long, a symlink loop, a file where a directory should be
        raise UsageError(f"{where}: {said}: {err.strerror}; fix the path") from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"{where}: {said} is a directory, not a program; name the program inside it")
    if not stat.S_ISREG(mode):
        raise UsageError(f"{where}: {said} is not a regular file; name a program")
    if platform.CAPABILITIES.exec_bit and not os.access(target, os.X_OK):
        raise UsageError(f"{where}: {said} is not executable; make it so with `chmod +x {program}`")
