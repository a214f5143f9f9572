"""Whether an old generation still accepts connections on the shared port.

The browser must not reload while the old process could still take the
request (it would render the old page again), and need not wait for its
drain either (a long-lived stream can hold that for seconds): the moment that
matters is when the old process closes its listening socket.
"""

from __future__ import annotations

import time
from typing import FrozenSet, Optional

import psutil

from hotgo.platform import linux_proc
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


def still_accepting(pid: int, port: int, inodes: FrozenSet[int]) -> Optional[bool]:
    """May `pid` still accept a connection on `port`? False once it closed its listener or exited;
    None where the OS does not say. With shared listeners (`inodes`, mode inherit) the process may
    keep the inherited fd open after it stopped accepting: what counts is whether the listener is
    in its epoll set or a thread blocks in accept() on it."""
    if inodes:
        if not linux_proc.AVAILABLE:
            return None
        return bool(linux_proc.accepting(pid, inodes))  # None: /proc/PID is gone, so is the process
    holds = holds_listener(pid, port)
    if holds is None:
        return False if _exited(pid) else None
    return holds


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
