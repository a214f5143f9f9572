"""Every difference between operating systems, in one place.

POSIX: each generation is a session/process-group leader; the shared listeners
are dup'ed to fds 3.. between fork and exec; LISTEN_PID is set by a one-line
`sh` shim (only the child knows its pid before exec); on Linux the child gets
PR_SET_PDEATHSIG=SIGKILL so it dies with hotgo; on other POSIX systems the shim
starts a tiny watcher that kills the group when hotgo is gone.
Windows: no fd inheritance (the service binds with SO_REUSEADDR), graceful stop
is CTRL_BREAK_EVENT to a child started with CREATE_NEW_PROCESS_GROUP.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from typing import Callable, Dict, List, Optional, Sequence

import psutil

IS_WINDOWS = sys.platform == "win32"
IS_LINUX = sys.platform.startswith("linux")

EXE_SUFFIX = ".exe" if IS_WINDOWS else ""
DEFAULT_SOCKET_MODE = "reuseport" if IS_WINDOWS else "inherit"
FIRST_INHERITED_FD = 3  # systemd's SD_LISTEN_FDS_START

_PR_SET_PDEATHSIG = 1

_LISTEN_PID_SHIM = 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'
# Non-Linux POSIX has no PDEATHSIG: a watcher in the child's group kills the group
# once hotgo (HOTGO_PARENT_PID) is gone, and ends by itself when the service ends.
_PARENT_WATCH_SHIM = (
    '( while kill -0 "$HOTGO_PARENT_PID" && kill -0 $$; do sleep 1; done; '
    "kill -KILL -$$ ) </dev/null >/dev/null 2>&1 & "
)


def set_listen_options(sock: socket.socket, reuseport: bool = True) -> None:
    """Options that let generations share a port (see DESIGN: inherit/reuseport)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport and hasattr(socket, "SO_REUSEPORT") and not IS_WINDOWS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def _load_prctl() -> Optional[Callable[[int, int], int]]:
    if not IS_LINUX:
        return None
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: Callable[[int, int], int] = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def _posix_child_setup(inherited: Sequence[int], parent_pid: int) -> Callable[[], None]:
    """Runs in the child between fork and exec: keep it to plain syscalls."""

    def setup() -> None:
        if sys.platform == "win32":
            return
        import fcntl

        if _PRCTL is not None:
            _PRCTL(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
            if os.getppid() != parent_pid:  # hotgo died before prctl took effect
                os._exit(1)
        # Two steps so that a source fd already sitting at 3.. is not clobbered.
        temps = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64) for fd in inherited]
        for index, temp in enumerate(temps):
            os.dup2(temp, FIRST_INHERITED_FD + index)  # dup2 clears FD_CLOEXEC

    return setup


def spawn(
    argv: List[str],
    env: Dict[str, str],
    cwd: str,
    inherited: Sequence[int] = (),
) -> subprocess.Popen[bytes]:
    """Start a generation in its own process group, output on one pipe."""
    if sys.platform == "win32":
        return _spawn_windows(argv, env, cwd)
    shim = ""
    if not IS_LINUX:
        env = {**env, "HOTGO_PARENT_PID": str(os.getpid())}
        shim += _PARENT_WATCH_SHIM
    if inherited:
        shim += _LISTEN_PID_SHIM
    elif shim:
        shim += 'exec "$0" "$@"'
    command = ["/bin/sh", "-c", shim, *argv] if shim else argv
    return subprocess.Popen(
        command,
        env=env,
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        close_fds=False,  # fds 3.. must survive; everything else hotgo opens is CLOEXEC
        preexec_fn=_posix_child_setup(tuple(inherited), os.getpid()),
    )


def _spawn_windows(argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    flags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0x200)
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, creationflags=flags,
    )


def spawn_tool(argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    """Start a helper command (go build) so that its whole tree can be cancelled."""
    if sys.platform == "win32":
        return _spawn_windows(argv, env, cwd)
    return subprocess.Popen(
        argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, start_new_session=True,
    )


def signal_number(name: str) -> int:
    return int(getattr(signal, name))


def send_signal(proc: subprocess.Popen[bytes], name: str) -> bool:
    """Deliver a named signal to a generation's whole group; False if it is gone."""
    if proc.poll() is not None:
        return False
    try:
        if sys.platform == "win32":
            # Windows has no signals: every graceful request becomes CTRL_BREAK_EVENT.
            proc.send_signal(signal.CTRL_BREAK_EVENT)
        else:
            os.killpg(proc.pid, signal_number(name))
    except (ProcessLookupError, PermissionError, OSError):
        return False
    return True


def signal_process(proc: subprocess.Popen[bytes], name: str) -> bool:
    """A config-push signal for the service process itself (not its children)."""
    if proc.poll() is not None:
        return False
    if sys.platform == "win32" or not hasattr(signal, name):
        return False  # Windows: push over HTTP instead (the default there)
    try:
        os.kill(proc.pid, signal_number(name))
    except OSError:
        return False
    return True


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a generation and everything it started, now."""
    if sys.platform == "win32":
        _kill_tree_psutil(proc.pid)
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_tree_psutil(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
        victims = [*parent.children(recursive=True), parent]
    except psutil.Error:
        return
    for victim in victims:
        try:
            victim.kill()
        except psutil.Error:
            pass


def supports_signal(name: str) -> bool:
    return hasattr(signal, name)
