"""Errors that reach the user as one clear line instead of a traceback."""

from __future__ import annotations


class UsageError(Exception):
    """Bad input from the user: command line, config file, project layout. Exit code 2."""

    exit_code = 2


class RuntimeFailure(Exception):
    """Something outside the user's input failed (disk, permissions, OS). Exit code 1."""

    exit_code = 1


def shown(value: str, keep: int = 48) -> str:
    """A value as a one-line message quotes it: its repr (a newline or a NUL shows as an escape), cut to
    `keep` characters with its length said, so that a 20,000-character value gives a readable line."""
    whole = repr(value)
    if len(whole) <= keep + 2:  # + its quotes
        return whole
    cut = value[:keep]
    while len(repr(cut)) > keep + 2:  # escapes ('\x00', '\U0001f600') are long: cut the value shorter
        cut = cut[:-1]
    return f"{cut!r}… ({len(value):,} characters)"


def described(value: object, keep: int = 48) -> str:
    """A value of any type as a message names it: `int 3`, `list ['a', 'b']`, cut as `shown` cuts."""
    text = repr(value)
    if len(text) > keep:
        text = f"{text[:keep]}… ({len(text):,} characters)"
    return f"{type(value).__name__} {text}"


def shown_name(text: str, keep: int = 400) -> str:
    """A path or a name as a message prints it: as it is when printable and at most `keep` characters, else
    as `shown` quotes it (a line break in a file name does not break the message's one line)."""
    return text if text.isprintable() and len(text) <= keep else shown(text, keep)
