"""Every difference between operating systems, in one place: the only package that asks which OS.

The rest of hotgo asks `CAPABILITIES` (what this OS lets hotgo do, by name; base.py)
and calls the functions below (spawn, send_signal, kill_tree, release, ...), which
delegate to one backend chosen at import time. The backends are plain classes so
that tests can drive the Windows and macOS branches on Linux with fakes of the OS
calls (see tests/test_platform.py).

  base.py        the Backend protocol, Capabilities and the one place that maps an OS to them
  posix.py       PosixBackend (Linux, macOS, BSDs: process groups, fds 3.., the parent watcher)
                 and the POSIX calls others need (flock, unix sockets, peer credentials)
  windows.py     WindowsBackend (Job Objects, CTRL_BREAK_EVENT) and msvcrt locking
  linux_proc.py  what Linux's /proc shows of a process's sockets
  listeners.py   who listens on which port, on every OS (on top of linux_proc, else psutil)
  reaper.py, children.py  orphans: hotgo as a child subreaper and as PID 1
"""

from __future__ import annotations

import socket
import subprocess
import sys
from typing import IO, Dict, List, Optional, Sequence

from hotgo.platform import children, posix, windows
from hotgo.platform.base import CAPABILITIES, Backend, Capabilities, PopenFactory, capabilities_for, signal_number
from hotgo.platform.linux_proc import reuseport_handoff_caveat
from hotgo.platform.posix import (
    PosixBackend,
    enlarge_pipe,
    limit_malloc_arenas,
    peer_is_this_user,
    trim_malloc,
    unix_socket,
    user_id,
)
from hotgo.platform.windows import (
    CREATE_NEW_PROCESS_GROUP,
    CREATE_SUSPENDED,
    CTRL_BREAK_EVENT,
    JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
    JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
    JOBOBJECT_BASIC_LIMIT_INFORMATION,
    JOBOBJECT_EXTENDED_LIMIT_INFORMATION,
    KILLED_EXIT_CODE,
    PROCESS_SET_QUOTA,
    PROCESS_SUSPEND_RESUME,
    PROCESS_TERMINATE,
    WinApi,
    WindowsBackend,
)

__all__ = [  # what the rest of hotgo, and tests/test_platform.py, reach as `platform.NAME`
    "CAPABILITIES", "CREATE_NEW_PROCESS_GROUP", "CREATE_SUSPENDED", "CTRL_BREAK_EVENT", "DEFAULT_SOCKET_MODE",
    "EXE_SUFFIX", "JOBOBJECT_BASIC_LIMIT_INFORMATION", "JOBOBJECT_EXTENDED_LIMIT_INFORMATION",
    "JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS", "JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE", "KILLED_EXIT_CODE",
    "PROCESS_SET_QUOTA", "PROCESS_SUSPEND_RESUME", "PROCESS_TERMINATE", "Backend", "Capabilities", "PopenFactory",
    "PosixBackend", "WinApi", "WindowsBackend", "capabilities_for", "enlarge_pipe", "kill_tree",
    "limit_malloc_arenas", "lock_file", "make_backend", "peer_is_this_user", "release", "reuseport_handoff_caveat",
    "send_signal", "set_listen_options", "signal_number", "signal_process", "spawn", "spawn_tool",
    "stop_description", "stop_failure", "trim_malloc", "unix_socket", "user_id",
]

EXE_SUFFIX = CAPABILITIES.exe_suffix
# POSIX: hotgo binds and every generation inherits the socket. Windows cannot pass
# a Go listener, so the service binds itself with SO_REUSEADDR.
DEFAULT_SOCKET_MODE = "inherit" if CAPABILITIES.fd_inheritance else "reuseport"


def set_listen_options(sock: socket.socket, reuseport: bool = True) -> None:
    """Options that let generations share a port (docs/architecture.md, "Sockets").

    Linux spreads new connections over SO_REUSEPORT listeners; macOS and the BSDs
    give them to the last socket bound; Windows has no SO_REUSEPORT and, with
    SO_REUSEADDR, which listener gets a connection is not determined.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport and CAPABILITIES.reuseport:
        posix.set_reuseport(sock)


def lock_file(handle: IO[str]) -> None:
    """An exclusive lock on an open file, without waiting: OSError if another process holds it."""
    if sys.platform == "win32":
        windows.lock_file(handle)
    else:
        posix.lock_file(handle)


def stop_description(name: str) -> str:
    """What a graceful stop with `name` really sends on this OS."""
    return windows.GRACEFUL_STOP if not CAPABILITIES.signals and name != "SIGKILL" else name


# -- the backend of this machine -----------------------------------------------------

_PRCTL = posix.load_prctl()


def make_backend(system: str = sys.platform, *, popen: Optional[PopenFactory] = None,
                 winapi: Optional[WinApi] = None, shell: str = "/bin/sh") -> Backend:
    """The backend for `system` (a sys.platform value); the Windows one accepts a fake API."""
    if system == "win32":
        return WindowsBackend(winapi, popen)
    if system.startswith("linux") and _PRCTL is not None:
        # PDEATHSIG reaches the service only; the watcher also ends the rest of its group when
        # hotgo is SIGKILLed. It outlives the service by a moment: hotgo, a child subreaper
        # (hotgo.platform.reaper), reaps it, also as a container's PID 1.
        return PosixBackend(_PRCTL, parent_watch=True, shell=shell, popen=popen)
    return PosixBackend(None, parent_watch=True, shell=shell, popen=popen)


_BACKEND: Backend = make_backend()


def spawn(argv: List[str], env: Dict[str, str], cwd: str, inherited: Sequence[int] = ()) -> subprocess.Popen[bytes]:
    """Start a generation in its own process group (Windows: its own job), output on one pipe."""
    with children.starting():  # registered before the orphan reaper can see it exit
        return children.register(_BACKEND.spawn(argv, env, cwd, inherited))


def spawn_tool(argv: List[str], env: Dict[str, str], cwd: str,
               stdin: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
    """Start a helper command (go build, the front door) so that its whole tree can be cancelled;
    stdin=subprocess.PIPE for one hotgo talks to."""
    with children.starting():
        return children.register(_BACKEND.spawn_tool(argv, env, cwd, stdin))


def send_signal(proc: subprocess.Popen[bytes], name: str) -> bool:
    """Ask a generation's whole group to stop (Windows: CTRL_BREAK_EVENT); False if it is gone."""
    return _BACKEND.stop(proc, name)


def stop_failure() -> str:
    """Why the last graceful stop that send_signal could not deliver failed, if the OS said."""
    return _BACKEND.stop_error


def signal_process(proc: subprocess.Popen[bytes], name: str) -> bool:
    """A config-push signal for the service process itself (not its children); False on Windows."""
    return _BACKEND.signal_process(proc, name)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a generation and everything it started, now."""
    _BACKEND.kill_tree(proc)


def release(proc: subprocess.Popen[bytes]) -> None:
    """Free what hotgo holds for a process that has been reaped (job handle, watcher pipe)."""
    _BACKEND.release(proc)
