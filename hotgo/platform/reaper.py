"""Orphans: hotgo as a child subreaper (Linux) and as PID 1 of a container.

A service that starts processes and never waits for them (`exec.Command(...).Start()`,
`sh -c 'x &'`) leaves orphans. Normally init reaps them; when hotgo is PID 1 (what
`docker run` makes of an entrypoint) they are hotgo's, and nobody else will. On Linux
hotgo also becomes a child subreaper (PR_SET_CHILD_SUBREAPER), so a service's orphans
are re-parented to hotgo rather than to init: hotgo reaps them, and kills those still
running when it stops (even one that left the generation's process group with setsid).

The reaper never calls waitpid(-1): that would steal the exit status of hotgo's own
children from subprocess. It reaps a zombie child only when it is neither a process
hotgo started through hotgo.platform (hotgo.platform.children) nor in hotgo's own session (the
short helpers subprocess.run starts, e.g. `go list`, which their callers wait for).
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
import threading
import time
from typing import Dict, List, NamedTuple, Optional

from hotgo.platform import children

_PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.25  # a zombie costs a pid-table slot, not CPU: a few per second is plenty


class Child(NamedTuple):
    pid: int
    state: str  # "Z" for a zombie
    session: int


def become_subreaper() -> bool:
    """Linux: orphans of hotgo's descendants become hotgo's children. False elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        return int(prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def child_pids() -> List[int]:
    """hotgo's direct children: /proc/self/task/*/children, else a scan of /proc."""
    pids: List[int] = []
    try:
        for task in os.listdir("/proc/self/task"):
            with open(f"/proc/self/task/{task}/children", encoding="ascii") as handle:
                pids += [int(word) for word in handle.read().split()]
        return pids
    except OSError:
        pass
    import psutil  # kernels without CONFIG_PROC_CHILDREN

    try:
        return [p.pid for p in psutil.Process().children()]
    except psutil.Error:
        return []


def describe(pid: int) -> Optional[Child]:
    """State and session of a process from /proc/PID/stat (a zombie keeps both until reaped)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    fields = text[text.rfind(")") + 2 :].split()  # the command name may hold spaces and ')'
    try:
        return Child(pid, fields[0], int(fields[3]))
    except (IndexError, ValueError):
        return None


def orphans() -> List[Child]:
    """Children hotgo did not start itself: adopted orphans (call with children.starting() held)."""
    if sys.platform == "win32":  # no sessions, no orphans to adopt: Job Objects end the tree
        return []
    own_session = os.getsid(0)
    found = []
    for pid in child_pids():
        child = describe(pid)
        if child is None or child.session == own_session or children.is_own(pid):
            continue
        found.append(child)
    return found


class OrphanReaper:
    """A thread that reaps adopted orphans; `kill_all` ends those still running at stop."""

    def __init__(self) -> None:
        self.reaped = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def start(self) -> bool:
        """Become a subreaper (Linux) and reap; a no-op where there is nothing to do."""
        subreaper = become_subreaper()
        if (not subreaper and os.getpid() != 1) or not os.path.isdir("/proc"):
            return False
        self._thread = threading.Thread(target=self._loop, name="hotgo-reaper", daemon=True)
        self._thread.start()
        return True

    def _loop(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            self.reap()

    def reap(self) -> int:
        """Reap every zombie orphan now; how many."""
        count = 0
        with children.starting():
            for child in orphans():
                if child.state == "Z" and self._wait(child.pid):
                    count += 1
        self.reaped += count
        return count

    @staticmethod
    def _wait(pid: int) -> bool:
        if sys.platform == "win32":
            return False
        try:
            return os.waitpid(pid, os.WNOHANG)[0] == pid
        except ChildProcessError:
            return False

    def kill_all(self, timeout: float = 3.0) -> int:
        """At stop: SIGKILL the orphans still running and reap them (their own children are
        re-parented to hotgo in turn, hence the loop). How many were killed."""
        if self._thread is None:
            return 0
        self._stop.set()
        killed: Dict[int, bool] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with children.starting():
                left = orphans()
                for child in left:
                    if child.state != "Z" and child.pid not in killed and sys.platform != "win32":
                        try:
                            os.kill(child.pid, signal.SIGKILL)
                            killed[child.pid] = True
                        except OSError:
                            pass
                    self._wait(child.pid)
            if not left:
                break
            time.sleep(0.02)
        return len(killed)

    def stop(self) -> None:
        self._stop.set()
