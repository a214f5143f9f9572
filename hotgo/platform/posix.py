"""POSIX: Linux, macOS and the BSDs (PosixBackend), and the POSIX calls the rest of hotgo needs.

Each generation is a session and process-group leader; the shared listeners are
dup'ed to fds 3.. between fork and exec; LISTEN_PID is set by a one-line `sh` exec
shim (only the child knows its pid before exec). Parent death:
  - Linux: PR_SET_PDEATHSIG=SIGKILL, set between fork and exec. It fires when
    the *thread* that forked ends, so hotgo spawns from its main thread. It
    kills the service process, not its process group.
  - macOS and the BSDs have no PDEATHSIG. hotgo keeps the write end of a pipe
    per generation; the shim starts a watcher in the child's process group that
    blocks reading the other end. When hotgo exits or is killed, the kernel
    closes the write end, `read` returns and the watcher SIGKILLs the whole
    group. No polling, no pid reuse race: the group cannot disappear while the
    watcher is in it. The watcher ignores the catchable stop signals, so a
    draining group stays covered; hotgo closes the pipe itself once it has
    reaped the service (release), which also ends the watcher.
Linux also runs this watcher: PDEATHSIG misses the rest of the group.

Importable on every OS (tests drive it with fakes); what would fail on Windows is
guarded by `sys.platform` checks, which also tell mypy what each OS has.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import struct
import subprocess
import sys
import weakref
from typing import IO, Any, Callable, Dict, List, Optional, Sequence

from hotgo.platform.base import PopenFactory, signal_number

FIRST_INHERITED_FD = 3  # systemd's SD_LISTEN_FDS_START

_PR_SET_PDEATHSIG = 1
_LISTEN_PID_SHIM = 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'
_EXEC_SHIM = 'exec "$0" "$@"'
# The shell's stdin is the read end of hotgo's pipe. The brace group moves it to fd 9
# for the background watcher only (and restores whatever fd 9 was, e.g. a listener);
# a background list's own stdin is /dev/null in a non-interactive shell. Then the
# service gets /dev/null as stdin, as without the watcher.
_PARENT_WATCH_SHIM = (
    "{ ( trap '' HUP INT QUIT TERM USR1 USR2 ALRM WINCH; read hotgo_eof <&9; kill -s KILL -- -$$ ) "
    "</dev/null >/dev/null 2>&1 & } 9<&0; exec </dev/null; "
)
PrctlFunc = Callable[[int, int], int]
_OPEN_FDS_DIR = "/proc/self/fd" if sys.platform.startswith("linux") else "/dev/fd"


def load_prctl() -> Optional[PrctlFunc]:
    """Linux's prctl(2), for PR_SET_PDEATHSIG; None elsewhere."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: PrctlFunc = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


def _child_setup(inherited: Sequence[int], parent_pid: int, prctl: Optional[PrctlFunc]) -> Callable[[], None]:
    """Runs in the child between fork and exec: keep it to plain syscalls."""

    def setup() -> None:
        if sys.platform == "win32":
            return
        import fcntl

        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL))
            if os.getppid() != parent_pid:  # hotgo died before prctl took effect
                os._exit(1)
        # Two steps so that a source fd already sitting at 3.. is not clobbered.
        temps = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64) for fd in inherited]
        for index, temp in enumerate(temps):
            os.dup2(temp, FIRST_INHERITED_FD + index)  # dup2 clears FD_CLOEXEC
        # Nothing else crosses the exec: not what hotgo inherited from whoever started it, nor
        # what a library opened without O_CLOEXEC. Marked, not closed: subprocess still needs
        # its own (close-on-exec) error pipe until the exec.
        first_private = FIRST_INHERITED_FD + len(inherited)
        for name in os.listdir(_OPEN_FDS_DIR):
            fd = int(name)
            if fd >= first_private:
                try:
                    fcntl.fcntl(fd, fcntl.F_SETFD, fcntl.FD_CLOEXEC)
                except OSError:
                    pass  # the directory's own fd, closed by now

    return setup


class PosixBackend:
    """Linux (prctl given) and macOS/BSD (parent_watch: the pipe watcher)."""

    def __init__(self, prctl: Optional[PrctlFunc], parent_watch: bool, shell: str = "/bin/sh",
                 popen: Optional[PopenFactory] = None) -> None:
        self.prctl = prctl
        self.parent_watch = parent_watch
        self.shell = shell
        self._popen = popen
        self._pipes: Dict[int, int] = {}  # id(proc) -> write end of its parent-watch pipe
        self.stop_error = ""  # a signal to a live group is always delivered: nothing to explain

    def _new(self, *args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        factory = self._popen or subprocess.Popen
        return factory(*args, **kwargs)

    def spawn(self, argv: List[str], env: Dict[str, str], cwd: str,
              inherited: Sequence[int] = ()) -> subprocess.Popen[bytes]:
        """Start a generation in its own session and process group, output on one pipe."""
        shim = _PARENT_WATCH_SHIM if self.parent_watch else ""
        if inherited:
            shim += _LISTEN_PID_SHIM
        elif shim:
            shim += _EXEC_SHIM
        command = [self.shell, "-c", shim, *argv] if shim else argv
        read_end = write_end = -1
        if self.parent_watch:
            read_end, write_end = os.pipe()  # both close-on-exec; Popen dups read_end to fd 0
        try:
            proc = self._new(
                command, env=env, cwd=cwd,
                stdin=read_end if read_end >= 0 else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=False,  # fds 3.. must survive; everything else hotgo opens is CLOEXEC
                preexec_fn=_child_setup(tuple(inherited), os.getpid(), self.prctl),
            )
        except BaseException:
            if write_end >= 0:
                os.close(write_end)
            raise
        finally:
            if read_end >= 0:
                os.close(read_end)
        if write_end >= 0:
            key = id(proc)
            self._pipes[key] = write_end
            weakref.finalize(proc, self._close_pipe, key)
        return proc

    def _close_pipe(self, key: int) -> None:
        write_end = self._pipes.pop(key, None)
        if write_end is not None:
            try:
                os.close(write_end)
            except OSError:
                pass

    def spawn_tool(self, argv: List[str], env: Dict[str, str], cwd: str,
                   stdin: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        """Start a helper command (go build) in its own group so that its whole tree can be cancelled."""
        return self._new(
            argv, env=env, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, start_new_session=True,
        )

    def stop(self, proc: subprocess.Popen[bytes], name: str) -> bool:
        if sys.platform == "win32":
            return False
        if proc.poll() is not None:
            return False
        try:
            os.killpg(proc.pid, signal_number(name))
        except OSError:
            return False
        return True

    def signal_process(self, proc: subprocess.Popen[bytes], name: str) -> bool:
        if sys.platform == "win32" or not hasattr(signal, name):
            return False
        if proc.poll() is not None:
            return False
        try:
            os.kill(proc.pid, signal_number(name))
        except OSError:
            return False
        return True

    def kill_tree(self, proc: subprocess.Popen[bytes]) -> None:
        if sys.platform == "win32":
            return
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass

    def release(self, proc: subprocess.Popen[bytes]) -> None:
        """The service has been reaped: end its parent watcher (which kills what is left of its group)."""
        self._close_pipe(id(proc))


_M_ARENA_MAX = -8  # glibc mallopt(3)


def _libc_function(name: str) -> Optional[Callable[..., int]]:
    """A function of the C library hotgo runs on (Linux), or None where it has no such function."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        function: Callable[..., int] = getattr(ctypes.CDLL(None), name)
    except (OSError, AttributeError):
        return None
    return function


def limit_malloc_arenas(count: int) -> bool:
    """glibc: the threads started from now on share at most `count` malloc arenas. False where that
    means nothing (not Linux; musl's mallopt refuses every option).

    glibc gives threads that allocate at the same moment arenas of their own, up to 8 per core, and
    an arena keeps what it once held. hotgo starts a few short-lived threads per generation (output,
    exit, notify, readiness and drain watches): over a day of reloads most of them got an arena,
    and RSS crept up by megabytes of memory Python had long freed. Python threads allocate under
    the GIL anyway, so one arena costs them no waiting."""
    mallopt = _libc_function("mallopt")
    return mallopt is not None and bool(mallopt(_M_ARENA_MAX, count))


_TRIM = _libc_function("malloc_trim")  # once: it runs after every generation's exit


def trim_malloc() -> bool:
    """glibc: hand the pages malloc holds free back to the system (malloc_trim(0)); whether it gave
    any back (False where there is no such call).

    Called once a generation is gone: what its reload allocated (the TCP table read by the drain and
    socket watches, its output, its reports) has been freed, and RSS comes back down to what is live."""
    return _TRIM is not None and bool(_TRIM(0))


_F_SETPIPE_SZ = 1031  # Linux fcntl: the pipe's capacity
PIPE_SIZE = 1 << 20  # the unprivileged maximum by default (fs.pipe-max-size)


def enlarge_pipe(fd: int) -> None:
    """Let a service's output pipe hold 1 MiB (Linux; 64 KiB by default) so that a short pause
    of its reader never makes a chatty service wait. Elsewhere, or refused: left as it is."""
    if not sys.platform.startswith("linux"):
        return
    import fcntl

    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, PIPE_SIZE)
    except OSError:
        pass


def set_reuseport(sock: socket.socket) -> None:
    """SO_REUSEPORT, where the OS has it."""
    if sys.platform != "win32" and hasattr(socket, "SO_REUSEPORT"):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def lock_file(handle: IO[str]) -> None:
    """An exclusive lock on an open file, without waiting: OSError if another process holds it."""
    if sys.platform == "win32":
        raise OSError("flock is POSIX")
    import fcntl

    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)


def unix_socket(kind: socket.SocketKind) -> socket.socket:
    """A new AF_UNIX socket (SOCK_STREAM, SOCK_DGRAM)."""
    if sys.platform == "win32":
        raise OSError("no unix sockets in hotgo on Windows")
    return socket.socket(socket.AF_UNIX, kind)


def user_id() -> int:
    """The uid hotgo runs as."""
    if sys.platform == "win32":
        return 0
    return os.getuid()


def peer_is_this_user(conn: socket.socket) -> bool:
    """The process at the other end of a unix socket runs as hotgo's user or root; True where the
    OS does not say (SO_PEERCRED is Linux's): there the socket file's mode 0600 is the guard."""
    if sys.platform == "win32" or not hasattr(socket, "SO_PEERCRED"):
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid in (os.getuid(), 0)
