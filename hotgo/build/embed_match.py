"""Which files a package's `//go:embed` patterns take in, with Go's own rules.

The patterns are those `go list` reports (EmbedPatterns), relative to the package directory. A pattern
is matched as Go's path.Match matches it (`*` and `?` stop at `/`; `[^a-z]` classes; `\\` escapes).
It takes in a file it matches, and every file below a directory it matches, except those whose name
(or a directory's on the way) begins with `.` or `_`, unless the pattern begins with `all:`.
Knowing the patterns, a file created in `static/` is a source of the service before any `go list`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable, List, Optional, Pattern, Tuple


def embedded(patterns: Iterable[str], relative: str) -> bool:
    """Whether a file at `relative` (slash-separated, below the package directory) is embedded."""
    parts = relative.split("/")
    for pattern in patterns:
        every = pattern.startswith("all:")
        regex = _compiled(pattern[len("all:"):] if every else pattern)
        if regex is None:
            continue
        for count in range(1, len(parts) + 1):
            if not regex.fullmatch("/".join(parts[:count])):
                continue
            below = parts[count:]  # empty: the file itself is named
            if every or not any(name.startswith((".", "_")) for name in below):
                return True
    return False


def path_match(pattern: str, name: str) -> bool:
    """Go's path.Match: whether `name` matches the shell pattern; False for a malformed pattern."""
    regex = _compiled(pattern)
    return regex is not None and regex.fullmatch(name) is not None


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> Optional[Pattern[str]]:
    """The pattern as a regular expression, or None where Go says ErrBadPattern."""
    out: List[str] = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        index += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "\\":
            if index == len(pattern):
                return None
            out.append(re.escape(pattern[index]))
            index += 1
        elif char == "[":
            end = _char_class(pattern, index, out)
            if end is None:
                return None
            index = end
        else:
            out.append(re.escape(char))
    return re.compile("".join(out), re.DOTALL)


def _char_class(pattern: str, index: int, out: List[str]) -> Optional[int]:
    """Translate `[^lo-hi...]` from just after its `[`; the index after its `]`, None if malformed."""
    negated = index < len(pattern) and pattern[index] == "^"
    index += negated
    ranges: List[str] = []
    first = True
    while True:
        if index == len(pattern):
            return None
        if pattern[index] == "]" and not first:
            break
        first = False
        low, index = _class_char(pattern, index)
        if low is None:
            return None
        high = low
        if index < len(pattern) and pattern[index] == "-":
            upper, index = _class_char(pattern, index + 1)
            if upper is None:
                return None
            high = upper
        if low <= high:  # Go takes a reversed range and matches nothing with it
            ranges.append(f"{re.escape(low)}-{re.escape(high)}")
    if ranges:
        out.append(("[^" if negated else "[") + "".join(ranges) + "]")
    else:
        out.append("." if negated else "(?!)")
    return index + 1


def _class_char(pattern: str, index: int) -> Tuple[Optional[str], int]:
    """One character of a class (`\\` escapes one), and the index after it; None where Go refuses one."""
    if index == len(pattern) or pattern[index] in "-]":
        return None, index
    if pattern[index] == "\\":
        index += 1
        if index == len(pattern):
            return None, index
    return pattern[index], index + 1
