"""What the OS takes, checked before a value reaches it (issue 23).

NUL bytes (no file name, argument or environment variable can carry one), the length of a
file name and of a path, environment variable names, the length of one argument or
environment entry, and whole numbers bounded before `int()` sees them. The limits differ
by OS and come from the platform seam (`platform.CAPABILITIES`: `name_max`, `path_max`,
`arg_max`, counted in `name_unit`). Each check raises ValueError saying what is allowed;
the caller adds where the value was set (`file:line: [section] key`, or the flag).
"""

from __future__ import annotations

import os
import re
from typing import Iterator, List, Tuple

from hotgo import platform
from hotgo.errors import described, shown

_DIGITS = re.compile(r"[0-9]+", re.ASCII)
_SEPARATORS = "".join(sep for sep in (os.sep, os.altsep, "/") if sep)


def length(text: str) -> int:
    """`text`'s length as the OS counts it: bytes of UTF-8 on POSIX, UTF-16 units on Windows."""
    if platform.CAPABILITIES.name_unit == "bytes":
        return len(text.encode("utf-8", "surrogateescape"))
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def strings_in(value: object) -> Iterator[Tuple[str, str]]:
    """Every string in a setting's value, with how a message names it: itself, the items of a list, the
    names and values of a table. A table's value is named by its name, never shown: tables are
    environments, and an environment's values are never logged."""
    pending: List[Tuple[object, str]] = [(value, "")]
    while pending:
        item, label = pending.pop()
        if isinstance(item, str):
            yield item, label or shown(item)
        elif isinstance(item, list):
            pending.extend((element, "") for element in item)
        elif isinstance(item, dict):
            for key, element in item.items():
                pending.append((key, ""))
                pending.append((element, f"the value of {shown(str(key))}"))


def check_strings(value: object, label: str = "") -> None:
    """Every string of a value reaches the OS whole: no NUL, only characters a name can carry, and no
    longer than one argument of a process (nothing hotgo passes on can be longer). `label` names a
    string that must not be shown."""
    for text, named in strings_in(value):
        named = label or named
        at = text.find("\0")
        if at >= 0:
            raise ValueError(f"{named} holds a NUL byte (character {at + 1}), which no file name, "
                             "argument or environment variable can carry; remove it")
        try:
            size = length(text)
        except UnicodeEncodeError as err:
            raise ValueError(f"{named} holds U+{ord(text[err.start]):04X}, a lone surrogate no file name or "
                             "argument can carry; remove it") from None
        argument(text, size, named)


def argument(text: str, size: int = -1, named: str = "") -> str:
    """One argument of a process (a build flag, a service argument, a validate word)."""
    size = length(text) if size < 0 else size
    most = platform.CAPABILITIES.arg_max
    if size > most:
        unit = platform.CAPABILITIES.name_unit
        raise ValueError(f"{named or shown(text)} is {size:,} {unit} long; one argument or environment entry "
                         f"of a process holds at most {most:,} {unit}; shorten it")
    return text


def path(text: str) -> str:
    """A file or directory path the OS can open: no name in it longer than `name_max`, the whole no
    longer than `path_max`."""
    caps = platform.CAPABILITIES
    for name in re.split(f"[{re.escape(_SEPARATORS)}]", text):
        if length(name) > caps.name_max:
            raise ValueError(f"{shown(text)}: the name {shown(name, 24)} is {length(name):,} {caps.name_unit} "
                             f"long; a file name holds at most {caps.name_max} {caps.name_unit}; shorten it")
    size = length(text)
    if size > caps.path_max:
        raise ValueError(f"{shown(text)} is {size:,} {caps.name_unit} long; a path holds at most "
                         f"{caps.path_max:,} {caps.name_unit}; shorten it")
    return text


def file_path(text: str) -> str:
    """A path given apart from the settings (a flag such as --log-file, a command's argument)."""
    check_strings(text)
    return path(text)


def env_name(name: str) -> str:
    """An environment variable's name: not empty, no '=' (it ends the name), no NUL."""
    if not name:
        raise ValueError("an environment variable needs a name; write e.g. LOG_LEVEL = \"debug\"")
    if "=" in name:
        raise ValueError(f"environment variable name {shown(name)} holds '=', which ends a name; "
                         "write a name without '=', e.g. LOG_LEVEL")
    check_strings(name)
    return name


def env_entry(name: str, value: str) -> None:
    """`NAME=value` as a new process gets it: a valid name, a value without NUL, the whole one entry. The
    message names neither (the caller names the variable); the value is never shown."""
    env_name(name)
    check_strings(value, "the value")
    size = length(name) + 1 + length(value)
    most = platform.CAPABILITIES.arg_max
    if size > most:
        unit = platform.CAPABILITIES.name_unit
        raise ValueError(f"NAME=value is {size:,} {unit} long; one environment entry holds at most "
                         f"{most:,} {unit}; shorten the value")


def whole_number(value: object, low: int, high: int, example: str) -> int:
    """A whole number within low..high, as TOML gives it (an integer) or as text of ASCII digits. The text's
    digits are counted before `int()` reads them (Python refuses over 4,300 digits), and other digits ('³',
    '٣', full-width) are refused rather than read."""
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str):
        text = value.strip()
        if not _DIGITS.fullmatch(text):
            raise ValueError(f"{shown(value)} is not a whole number written with the digits 0-9; "
                             f"write e.g. {example}")
        if len(text.lstrip("0")) > len(str(high)):
            raise ValueError(f"{shown(value)} is more than {high}; write a number {low}..{high}, e.g. {example}")
        number = int(text.lstrip("0") or "0")  # leading zeros count as digits for int() too
    else:
        raise ValueError(f"expected a whole number, got {described(value)}; write e.g. {example}")
    if not low <= number <= high:
        raise ValueError(f"{number} is not within {low}..{high}; write e.g. {example}")
    return number
