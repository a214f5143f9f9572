"""Whether an old generation still accepts connections on the shared port.

The browser must not reload while the old process could still take the
request (it would render the old page again), and need not wait for its
drain either (a long-lived stream can hold that for seconds): the moment that
matters is when the old process closes its listening socket.
"""

from __future__ import annotations

import time
from typing import Optional

import psutil

from hotgo.platform.listeners import listens_on


def holds_listener(pid: int, port: int) -> Optional[bool]:
    """True while `pid` (or a child) has a listening TCP socket on `port`; None when the OS will not say."""
    return listens_on(pid, port, family=True)


def _exited(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        return False


def wait_stopped_accepting(pid: int, port: int, timeout: float, step: float = 0.02) -> bool:
    """Wait until `pid` has closed its listener on `port` (or exited); False if it still had after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        holds = holds_listener(pid, port)
        # Where the OS hides other processes' sockets, only the exit is certain.
        if holds is False or (holds is None and _exited(pid)):
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
