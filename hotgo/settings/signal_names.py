"""Signal names as settings give them: 'term', 'SIGTERM' and '15' all mean SIGTERM.

Kept apart from hotgo.settings.schema so that the push spec parser (hotgo.settings.push_method)
can check a signal without importing the settings it is declared in.
"""

from __future__ import annotations

import signal

from hotgo.errors import shown

# Names valid for a stop or push signal. Windows maps them in hotgo.platform.
KNOWN_SIGNALS = frozenset({
    "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2", "SIGKILL", "SIGWINCH",
    "SIGCONT", "SIGSTOP", "SIGALRM",
})


def parse_signal(text: str) -> str:
    """Normalise 'term', 'SIGTERM', '15' to 'SIGTERM' (a name valid on this OS or on POSIX)."""
    name = text.strip().upper()
    if name.isdigit():
        try:
            if not (name.isascii() and len(name) <= 3):  # '٣', a 5,000-digit number: none is a signal
                raise ValueError
            return signal.Signals(int(name)).name
        except ValueError:
            raise ValueError(f"{shown(text)} is not a signal number on this system") from None
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name not in KNOWN_SIGNALS:
        raise ValueError(f"{shown(text)} is not a signal name; use e.g. SIGTERM, SIGINT, SIGHUP, SIGQUIT")
    return name
