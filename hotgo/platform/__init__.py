"""Every difference between operating systems, in one place.

The rest of hotgo calls the module functions at the bottom (spawn, send_signal,
kill_tree, release, ...); they delegate to one backend chosen at import time.
The backends are plain classes so that tests can drive the Windows and macOS
branches on Linux with fakes of the OS calls (see tests/test_platform.py).

POSIX (PosixBackend). Each generation is a session and process-group leader;
the shared listeners are dup'ed to fds 3.. between fork and exec; LISTEN_PID
is set by a one-line `sh` exec shim (only the child knows its pid before exec).
Parent death:
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
Windows (WindowsBackend). No fd inheritance: the service binds the address with
SO_REUSEADDR (socket mode reuseport). Every process is started with
CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED, assigned to its own Job Object
with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and only then resumed, so nothing it
starts escapes the job. hotgo holds the only job handle (not inheritable): when
hotgo exits or dies, Windows closes it and kills the whole tree. A graceful stop
is CTRL_BREAK_EVENT to the child's process group (Go reports it as
os.Interrupt); there are no other signals, so config pushes go over HTTP.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import threading
import weakref
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, cast

import psutil

from hotgo.platform import children

IS_WINDOWS = sys.platform == "win32"
IS_LINUX = sys.platform.startswith("linux")

EXE_SUFFIX = ".exe" if IS_WINDOWS else ""
# POSIX: hotgo binds and every generation inherits the socket. Windows cannot pass
# a Go listener, so the service binds itself with SO_REUSEADDR.
DEFAULT_SOCKET_MODE = "reuseport" if IS_WINDOWS else "inherit"
FIRST_INHERITED_FD = 3  # systemd's SD_LISTEN_FDS_START
# Windows has no NOTIFY_SOCKET in hotgo: readiness `auto` there is an HTTP probe of
# the first listen address that tells generations apart (hotgo.handoff.readiness).
AUTO_READY_PROBE = IS_WINDOWS
# What a graceful stop really delivers, for messages.
GRACEFUL_STOP = "CTRL_BREAK_EVENT" if IS_WINDOWS else ""

PopenFactory = Callable[..., "subprocess.Popen[bytes]"]


class Backend(Protocol):
    def spawn(self, argv: List[str], env: Dict[str, str], cwd: str,
              inherited: Sequence[int] = ()) -> subprocess.Popen[bytes]: ...

    def spawn_tool(self, argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]: ...

    def stop(self, proc: subprocess.Popen[bytes], name: str) -> bool: ...

    def signal_process(self, proc: subprocess.Popen[bytes], name: str) -> bool: ...

    def kill_tree(self, proc: subprocess.Popen[bytes]) -> None: ...

    def release(self, proc: subprocess.Popen[bytes]) -> None: ...


def set_listen_options(sock: socket.socket, reuseport: bool = True) -> None:
    """Options that let generations share a port (docs/architecture.md, "Sockets").

    Linux spreads new connections over SO_REUSEPORT listeners; macOS and the BSDs
    give them to the last socket bound; Windows has no SO_REUSEPORT and, with
    SO_REUSEADDR, which listener gets a connection is not determined.
    """
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport and hasattr(socket, "SO_REUSEPORT") and not IS_WINDOWS:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)


def signal_number(name: str) -> int:
    return int(getattr(signal, name))


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


# -- POSIX ---------------------------------------------------------------------------

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
_OPEN_FDS_DIR = "/proc/self/fd" if IS_LINUX else "/dev/fd"


def _load_prctl() -> Optional[PrctlFunc]:
    if not IS_LINUX:
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        prctl: PrctlFunc = libc.prctl
    except (OSError, AttributeError):
        return None
    return prctl


_PRCTL = _load_prctl()


def _posix_child_setup(inherited: Sequence[int], parent_pid: int, prctl: Optional[PrctlFunc]) -> Callable[[], None]:
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
                preexec_fn=_posix_child_setup(tuple(inherited), os.getpid(), self.prctl),
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

    def spawn_tool(self, argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
        """Start a helper command (go build) in its own group so that its whole tree can be cancelled."""
        return self._new(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
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


# -- Windows -------------------------------------------------------------------------

CREATE_SUSPENDED = 0x00000004
CREATE_NEW_PROCESS_GROUP = 0x00000200
CTRL_BREAK_EVENT = 1
PROCESS_TERMINATE = 0x0001
PROCESS_SET_QUOTA = 0x0100
PROCESS_SUSPEND_RESUME = 0x0800
JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE = 0x00002000
JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS = 9  # JobObjectExtendedLimitInformation
KILLED_EXIT_CODE = 1


class JOBOBJECT_BASIC_LIMIT_INFORMATION(ctypes.Structure):  # the Win32 names
    _fields_ = [
        ("PerProcessUserTimeLimit", ctypes.c_int64),
        ("PerJobUserTimeLimit", ctypes.c_int64),
        ("LimitFlags", ctypes.c_uint32),
        ("MinimumWorkingSetSize", ctypes.c_size_t),
        ("MaximumWorkingSetSize", ctypes.c_size_t),
        ("ActiveProcessLimit", ctypes.c_uint32),
        ("Affinity", ctypes.c_size_t),
        ("PriorityClass", ctypes.c_uint32),
        ("SchedulingClass", ctypes.c_uint32),
    ]


class IO_COUNTERS(ctypes.Structure):
    _fields_ = [(name, ctypes.c_uint64) for name in (
        "ReadOperationCount", "WriteOperationCount", "OtherOperationCount",
        "ReadTransferCount", "WriteTransferCount", "OtherTransferCount")]


class JOBOBJECT_EXTENDED_LIMIT_INFORMATION(ctypes.Structure):
    _fields_ = [
        ("BasicLimitInformation", JOBOBJECT_BASIC_LIMIT_INFORMATION),
        ("IoInfo", IO_COUNTERS),
        ("ProcessMemoryLimit", ctypes.c_size_t),
        ("JobMemoryLimit", ctypes.c_size_t),
        ("PeakProcessMemoryUsed", ctypes.c_size_t),
        ("PeakJobMemoryUsed", ctypes.c_size_t),
    ]


class WinApi(Protocol):
    """The kernel32/ntdll functions hotgo uses, with their Win32 names and raw results."""

    def CreateJobObjectW(self, attributes: Optional[int], name: Optional[str]) -> Optional[int]: ...

    def SetInformationJobObject(self, job: int, info_class: int, info: Any, size: int) -> int: ...

    def AssignProcessToJobObject(self, job: int, process: int) -> int: ...

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> Optional[int]: ...

    def NtResumeProcess(self, process: int) -> int: ...  # ntdll; NTSTATUS, 0 = success

    def TerminateJobObject(self, job: int, exit_code: int) -> int: ...

    def GenerateConsoleCtrlEvent(self, event: int, process_group: int) -> int: ...

    def CloseHandle(self, handle: int) -> int: ...

    def GetLastError(self) -> int: ...


def _load_winapi() -> WinApi:
    if sys.platform != "win32":
        raise OSError("the Windows API is only available on Windows")
    from ctypes import wintypes
    from types import SimpleNamespace

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    ntdll = ctypes.WinDLL("ntdll")

    def bind(dll: Any, name: str, restype: Any, *argtypes: Any) -> Any:
        function = getattr(dll, name)
        function.restype = restype
        function.argtypes = list(argtypes)
        return function

    handle, boolean, dword = wintypes.HANDLE, wintypes.BOOL, wintypes.DWORD
    api = SimpleNamespace(
        CreateJobObjectW=bind(kernel32, "CreateJobObjectW", handle, ctypes.c_void_p, wintypes.LPCWSTR),
        SetInformationJobObject=bind(kernel32, "SetInformationJobObject", boolean,
                                     handle, ctypes.c_int, ctypes.c_void_p, dword),
        AssignProcessToJobObject=bind(kernel32, "AssignProcessToJobObject", boolean, handle, handle),
        OpenProcess=bind(kernel32, "OpenProcess", handle, dword, boolean, dword),
        NtResumeProcess=bind(ntdll, "NtResumeProcess", wintypes.LONG, handle),
        TerminateJobObject=bind(kernel32, "TerminateJobObject", boolean, handle, wintypes.UINT),
        GenerateConsoleCtrlEvent=bind(kernel32, "GenerateConsoleCtrlEvent", boolean, dword, dword),
        CloseHandle=bind(kernel32, "CloseHandle", boolean, handle),
        GetLastError=ctypes.get_last_error,
    )
    return cast(WinApi, api)


class WindowsBackend:
    """Job Objects, CTRL_BREAK_EVENT, no signals, no fd inheritance."""

    def __init__(self, api: Optional[WinApi] = None, popen: Optional[PopenFactory] = None) -> None:
        self._api = api
        self._popen = popen
        self._jobs: Dict[int, int] = {}  # id(proc) -> job handle
        self._lock = threading.Lock()
        self.stop_error = ""  # why the last graceful stop could not be delivered

    @property
    def api(self) -> WinApi:
        if self._api is None:
            self._api = _load_winapi()
        return self._api

    def _fail(self, what: str) -> OSError:
        code = self.api.GetLastError()
        return OSError(f"{what} failed (Windows error {code})")

    def spawn(self, argv: List[str], env: Dict[str, str], cwd: str,
              inherited: Sequence[int] = ()) -> subprocess.Popen[bytes]:
        if inherited:
            raise OSError("socket mode inherit needs POSIX descriptor passing; on Windows use socket mode "
                          "reuseport (the service binds with SO_REUSEADDR)")
        return self._start(argv, env, cwd)

    def spawn_tool(self, argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
        return self._start(argv, env, cwd)

    def _start(self, argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
        api = self.api
        job = self._new_job()
        factory = self._popen or subprocess.Popen
        try:
            # Suspended until it is in the job: it cannot start a process outside it first.
            proc = factory(
                argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, creationflags=CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED,
            )
        except BaseException:
            api.CloseHandle(job)
            raise
        try:
            self._enter_job(job, proc.pid)
        except OSError:
            api.TerminateJobObject(job, KILLED_EXIT_CODE)
            api.CloseHandle(job)
            proc.kill()  # TerminateProcess works on a suspended process
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
            raise
        key = id(proc)
        with self._lock:
            self._jobs[key] = job
        weakref.finalize(proc, self._close_job, key)
        return proc

    def _new_job(self) -> int:
        api = self.api
        job = api.CreateJobObjectW(None, None)  # not inheritable: only hotgo holds it
        if not job:
            raise self._fail("CreateJobObjectW")
        info = JOBOBJECT_EXTENDED_LIMIT_INFORMATION()
        info.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE
        if not api.SetInformationJobObject(job, JOB_OBJECT_EXTENDED_LIMIT_INFORMATION_CLASS,
                                           ctypes.byref(info), ctypes.sizeof(info)):
            error = self._fail("SetInformationJobObject")
            api.CloseHandle(job)
            raise error
        return job

    def _enter_job(self, job: int, pid: int) -> None:
        api = self.api
        process = api.OpenProcess(PROCESS_SET_QUOTA | PROCESS_TERMINATE | PROCESS_SUSPEND_RESUME, False, pid)
        if not process:
            raise self._fail("OpenProcess")
        try:
            if not api.AssignProcessToJobObject(job, process):
                raise self._fail("AssignProcessToJobObject")
            # Popen closed the main thread's handle; NtResumeProcess (ntdll, used by psutil's
            # Process.resume) resumes every thread of the process.
            status = api.NtResumeProcess(process)
            if status != 0:
                raise OSError(f"NtResumeProcess failed (NTSTATUS {status & 0xFFFFFFFF:#010x})")
        finally:
            api.CloseHandle(process)

    def _close_job(self, key: int) -> None:
        with self._lock:
            job = self._jobs.pop(key, None)
        if job is not None:
            self.api.CloseHandle(job)  # KILL_ON_JOB_CLOSE: whatever is left in it dies

    def stop(self, proc: subprocess.Popen[bytes], name: str) -> bool:
        """Every graceful stop is CTRL_BREAK_EVENT to the child's process group."""
        if proc.poll() is not None:
            return False
        if name == "SIGKILL":
            self.kill_tree(proc)
            return True
        if self.api.GenerateConsoleCtrlEvent(CTRL_BREAK_EVENT, proc.pid):
            return True
        # Fails without a console (pythonw, a Windows service). Wine 8 fails it for any child's
        # process group (error 6, ERROR_INVALID_HANDLE); a real Windows with a console delivers it.
        self.stop_error = f"GenerateConsoleCtrlEvent failed: Windows error {self.api.GetLastError()}"
        return False

    def signal_process(self, proc: subprocess.Popen[bytes], name: str) -> bool:
        return False  # no signals to push a config with: push = http (the default here)

    def kill_tree(self, proc: subprocess.Popen[bytes]) -> None:
        with self._lock:
            job = self._jobs.get(id(proc))
        if job is not None and self.api.TerminateJobObject(job, KILLED_EXIT_CODE):
            return
        if proc.poll() is None:  # no job (or it failed): walk the tree while the process exists
            _kill_tree_psutil(proc.pid)

    def release(self, proc: subprocess.Popen[bytes]) -> None:
        """The service has been reaped: close its job, which kills anything it left behind."""
        self._close_job(id(proc))


# -- the backend of this machine -----------------------------------------------------

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


def spawn_tool(argv: List[str], env: Dict[str, str], cwd: str) -> subprocess.Popen[bytes]:
    """Start a helper command (go build) so that its whole tree can be cancelled."""
    with children.starting():
        return children.register(_BACKEND.spawn_tool(argv, env, cwd))


def send_signal(proc: subprocess.Popen[bytes], name: str) -> bool:
    """Ask a generation's whole group to stop (Windows: CTRL_BREAK_EVENT); False if it is gone."""
    return _BACKEND.stop(proc, name)


def stop_failure() -> str:
    """Why the last graceful stop that send_signal could not deliver failed, if the OS said."""
    return str(getattr(_BACKEND, "stop_error", ""))


def signal_process(proc: subprocess.Popen[bytes], name: str) -> bool:
    """A config-push signal for the service process itself (not its children); False on Windows."""
    return _BACKEND.signal_process(proc, name)


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """Kill a generation and everything it started, now."""
    _BACKEND.kill_tree(proc)


def release(proc: subprocess.Popen[bytes]) -> None:
    """Free what hotgo holds for a process that has been reaped (job handle, watcher pipe)."""
    _BACKEND.release(proc)


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


def stop_description(name: str) -> str:
    """What a graceful stop with `name` really sends on this OS."""
    return GRACEFUL_STOP if IS_WINDOWS and name != "SIGKILL" else name


def reuseport_handoff_caveat() -> Optional[str]:
    """What socket mode `reuseport` loses on this OS, if anything can be done about it."""
    if not IS_LINUX:
        return None
    try:
        with open("/proc/sys/net/ipv4/tcp_migrate_req", encoding="ascii") as handle:
            if handle.read().strip() != "0":
                return None
    except OSError:
        return None  # older kernels: nothing to switch on
    return ("socket reuseport: when an old generation closes its socket, Linux resets connections still "
            "queued in it (a few new connections per reload under load). `sudo sysctl -w "
            "net.ipv4.tcp_migrate_req=1` hands them to the new generation instead; socket = inherit "
            "(the default) does not have this problem")
