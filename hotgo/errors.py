"""Errors that reach the user as one clear line instead of a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: command line, config file, project layout. Exit code 2."""

    exit_code = 2


class RuntimeFailure(Exception):
    """Something outside the user's input failed (disk, permissions, OS). Exit code 1."""

    exit_code = 1
