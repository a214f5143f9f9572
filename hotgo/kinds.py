"""The base of hotgo's named kinds (push methods and outcomes, readiness): an Enum whose text is its value.

Their values are what users write in settings and what JSON logs and `hotgo status`
carry, so str() and f-strings give the value, on every Python (3.12 changed the default).
"""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    def __str__(self) -> str:
        return str(self.value)
