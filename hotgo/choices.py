"""hotgo's named kinds: each an Enum whose text is its value.

Their values are what users write in settings and what JSON logs and `hotgo status`
carry, so str(), repr() and f-strings give the value, on every Python (3.12 changed
the default), and messages read as they did when these were plain strings. The kinds
that several layers share live here; the others next to their one user (PushKind in
hotgo.settings.push_method, PushOutcome in hotgo.push.outcome, ReadyKind in hotgo.handoff.readiness).
"""

from __future__ import annotations

from enum import Enum


class Kind(str, Enum):
    def __str__(self) -> str:
        return str(self.value)

    def __repr__(self) -> str:
        return repr(self.value)


class SocketMode(Kind):
    """`[run] socket`: how generations share the listening port."""

    AUTO = "auto"  # resolved by Settings.socket_mode, never in effect itself
    INHERIT = "inherit"  # hotgo binds; every generation inherits the socket
    REUSEPORT = "reuseport"  # the service binds with SO_REUSEPORT (SO_REUSEADDR on Windows)
    NONE = "none"  # no shared port: stop, then start
