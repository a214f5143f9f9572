"""The processes hotgo started itself, so that the orphan reaper never reaps one of them.

A process-wide waitpid(-1) would steal the exit status that subprocess waits for (its
returncode would then be wrong). Every generation and `go build` is started through
hotgo.platform, which registers it here under `starting()`: the reaper takes the same
lock, so a child that exits before Popen returns is never mistaken for an orphan.
"""

from __future__ import annotations

import subprocess
import threading
import weakref
from typing import Any, Dict, TypeVar

Proc = TypeVar("Proc", bound="subprocess.Popen[Any]")
_lock = threading.Lock()
_started: Dict[int, weakref.ReferenceType[subprocess.Popen[Any]]] = {}


def starting() -> threading.Lock:
    """Hold while starting a child and registering it (`with children.starting(): ...`)."""
    return _lock


def register(proc: Proc) -> Proc:
    """Call with the lock held, right after Popen returned."""
    for pid in [pid for pid, ref in _started.items() if _reaped(ref)]:
        del _started[pid]  # a daemon that reloads for months keeps only the living
    _started[proc.pid] = weakref.ref(proc)
    return proc


def _reaped(ref: weakref.ReferenceType[subprocess.Popen[Any]]) -> bool:
    proc = ref()
    return proc is None or proc.returncode is not None


def is_own(pid: int) -> bool:
    """A child hotgo started and has not reaped yet (its waiter will). Call with the lock held."""
    ref = _started.get(pid)
    if ref is None or _reaped(ref):
        _started.pop(pid, None)  # reaped by its owner: the pid may now be an orphan's
        return False
    return True
