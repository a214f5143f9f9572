"""Durations as settings give them: '250ms', '2s', '1.5s', '1m', '1h', at most a week.

Apart from the declarations (hotgo.settings.schema, which re-exports them) so that the file
stays one screenful of settings; the loop formats its own durations with `format_duration`.
"""

from __future__ import annotations

import math
import re

from hotgo.errors import shown

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$", re.ASCII)
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


# Longer than any wait hotgo needs, short enough for every timer and clock API.
MAX_DURATION = 7 * 24 * 3600.0


def parse_duration(text: str) -> float:
    """'250ms', '2s', '1.5s', '1m' -> seconds (at most a week)."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{shown(text)} is not a duration; write e.g. '250ms', '2s', '1m'")
    number, unit = match.groups()
    return check_duration(float(number) * _UNITS[unit or "s"], text)


def check_duration(seconds: float, given: object, positive: bool = False) -> float:
    """A finite number of seconds within 0 (exclusive when `positive`) .. MAX_DURATION."""
    said = shown(given) if isinstance(given, str) else repr(given)
    if math.isnan(seconds):
        raise ValueError(f"{said} is not a number of seconds; write e.g. '250ms', '2s', '1m'")
    if seconds > MAX_DURATION:
        raise ValueError(f"{said} is longer than a week; write e.g. '30s' or '10m'")
    if seconds < 0 or (positive and seconds == 0):
        least = "more than 0" if positive else "0 or more"
        raise ValueError(f"{said} must be {least}; write e.g. '250ms', '2s', '1m'")
    return seconds


def format_duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s".replace(".00s", "s")
