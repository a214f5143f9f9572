"""hotgo.platform: the Windows and macOS branches driven with fakes of the OS calls, and the
POSIX behaviour (Linux, and the macOS parent watcher, which is plain POSIX) with real processes."""

from __future__ import annotations

import ast
import ctypes
import gc
import http.server
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import psutil
import pytest
from harness import REPO, gone
from harness import wait_for as harness_wait_for
from watchdog.events import FileDeletedEvent, FileModifiedEvent

from hotgo import platform
from hotgo.errors import UsageError
from hotgo.handoff import readiness
from hotgo.handoff.generation import Generation
from hotgo.handoff.readiness import ReadyKind
from hotgo.platform import listeners
from hotgo.settings.addresses import parse_listen
from hotgo.settings.schema import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, resolve
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import Watcher

LINUX = sys.platform.startswith("linux")
needs_linux = pytest.mark.skipif(not LINUX, reason="real-process tests read /proc")

Call = Tuple[Any, ...]


def wait_for(condition: Callable[[], object], timeout: float = 5.0, what: str = "condition") -> object:
    return harness_wait_for(condition, timeout, what)


# -- fakes of the OS calls ------------------------------------------------------------

class FakeWinApi:
    """kernel32/ntdll as the Windows backend calls them; every call is logged in order."""

    JOB = 100
    PROCESS = 200

    def __init__(self, log: List[Call]) -> None:
        self.log = log
        self.fail: Dict[str, int] = {}  # function name -> result to return instead of success
        self.limit_flags: Optional[int] = None

    def _result(self, name: str, ok: int) -> int:
        return self.fail.get(name, ok)

    def CreateJobObjectW(self, attributes: Optional[int], name: Optional[str]) -> Optional[int]:
        self.log.append(("CreateJobObjectW", attributes, name))
        return self._result("CreateJobObjectW", self.JOB)

    def SetInformationJobObject(self, job: int, info_class: int, info: Any, size: int) -> int:
        structure = info._obj  # what ctypes.byref points at
        self.limit_flags = structure.BasicLimitInformation.LimitFlags
        self.log.append(("SetInformationJobObject", job, info_class, self.limit_flags, size))
        return self._result("SetInformationJobObject", 1)

    def AssignProcessToJobObject(self, job: int, process: int) -> int:
        self.log.append(("AssignProcessToJobObject", job, process))
        return self._result("AssignProcessToJobObject", 1)

    def OpenProcess(self, access: int, inherit: bool, pid: int) -> Optional[int]:
        self.log.append(("OpenProcess", access, inherit, pid))
        return self._result("OpenProcess", self.PROCESS)

    def NtResumeProcess(self, process: int) -> int:
        self.log.append(("NtResumeProcess", process))
        return self._result("NtResumeProcess", 0)

    def TerminateJobObject(self, job: int, exit_code: int) -> int:
        self.log.append(("TerminateJobObject", job, exit_code))
        return self._result("TerminateJobObject", 1)

    def GenerateConsoleCtrlEvent(self, event: int, process_group: int) -> int:
        self.log.append(("GenerateConsoleCtrlEvent", event, process_group))
        return self._result("GenerateConsoleCtrlEvent", 1)

    def CloseHandle(self, handle: int) -> int:
        self.log.append(("CloseHandle", handle))
        return 1

    def GetLastError(self) -> int:
        return 5  # ERROR_ACCESS_DENIED

    def names(self) -> List[str]:
        return [call[0] for call in self.log]


class FakeProc(subprocess.Popen[bytes]):
    """Enough of subprocess.Popen for the backends (a Popen by type; its __init__ starts nothing)."""

    def __init__(self, log: List[Call], args: List[str], kwargs: Dict[str, Any], pid: int = 4242) -> None:
        self.args: List[str] = args
        self.kwargs = kwargs
        self.pid = pid
        self.returncode: Optional[int] = None
        self.stdout = io.BytesIO()
        self._log = log

    def poll(self) -> Optional[int]:
        return self.returncode

    def kill(self) -> None:
        self._log.append(("Popen.kill", self.pid))
        self.returncode = 1

    def wait(self, timeout: Optional[float] = None) -> int:
        return self.returncode if self.returncode is not None else 0


class FakePopen:
    def __init__(self, log: List[Call]) -> None:
        self.log = log
        self.made: List[FakeProc] = []

    def __call__(self, args: List[str], **kwargs: Any) -> FakeProc:
        self.log.append(("Popen", args, kwargs.get("creationflags", 0)))
        proc = FakeProc(self.log, args, kwargs)
        self.made.append(proc)
        return proc


@pytest.fixture
def win() -> Iterator[Tuple[platform.WindowsBackend, FakeWinApi, FakePopen]]:
    log: List[Call] = []
    api = FakeWinApi(log)
    popen = FakePopen(log)
    backend = platform.make_backend("win32", winapi=api, popen=popen)
    assert isinstance(backend, platform.WindowsBackend)
    yield backend, api, popen


# -- Windows ------------------------------------------------------------------------------

def test_windows_spawn_suspended_then_job_then_resume(win: Any) -> None:
    backend, api, popen = win
    proc = backend.spawn(["C:\\svc\\api-3.exe", "-v"], {"HOTGO_GENERATION": "3"}, "C:\\svc")
    assert proc is popen.made[0]
    flags = proc.kwargs["creationflags"]
    assert flags & platform.CREATE_NEW_PROCESS_GROUP and flags & platform.CREATE_SUSPENDED
    assert proc.args == ["C:\\svc\\api-3.exe", "-v"]  # no shell, no shim
    assert proc.kwargs["stdin"] == subprocess.DEVNULL and proc.kwargs["stderr"] == subprocess.STDOUT
    assert api.names() == [
        "CreateJobObjectW", "SetInformationJobObject", "Popen", "OpenProcess",
        "AssignProcessToJobObject", "NtResumeProcess", "CloseHandle",
    ]
    create, set_info, _, open_process, assign, resume, close = api.log
    assert create == ("CreateJobObjectW", None, None)  # no security attributes: not inheritable
    assert set_info == ("SetInformationJobObject", api.JOB, 9, platform.JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE,
                        ctypes.sizeof(platform.JOBOBJECT_EXTENDED_LIMIT_INFORMATION))
    access = open_process[1]
    needed = platform.PROCESS_SET_QUOTA | platform.PROCESS_TERMINATE | platform.PROCESS_SUSPEND_RESUME
    assert access & needed == needed and open_process[3] == proc.pid
    assert assign == ("AssignProcessToJobObject", api.JOB, api.PROCESS)
    assert resume == ("NtResumeProcess", api.PROCESS)
    assert close == ("CloseHandle", api.PROCESS)  # the process handle; the job handle stays open


def test_windows_job_struct_layout() -> None:
    if ctypes.sizeof(ctypes.c_void_p) != 8:
        pytest.skip("layout figures are for 64-bit")
    info = platform.JOBOBJECT_EXTENDED_LIMIT_INFORMATION
    basic = platform.JOBOBJECT_BASIC_LIMIT_INFORMATION
    assert ctypes.sizeof(info) == 144  # sizeof(JOBOBJECT_EXTENDED_LIMIT_INFORMATION) on Win64
    assert basic.LimitFlags.offset == 16 and ctypes.sizeof(basic) == 64
    assert info.IoInfo.offset == 64 and info.ProcessMemoryLimit.offset == 112


def test_windows_stop_kill_release_through_the_module_interface(
        win: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, api, _ = win
    monkeypatch.setattr(platform, "_BACKEND", backend)
    monkeypatch.setattr(platform.windows, "kill_tree_psutil", lambda pid: pytest.fail("job kill expected"))
    proc = platform.spawn(["svc.exe"], {}, ".")
    api.log.clear()

    assert platform.send_signal(proc, "SIGTERM") is True
    assert platform.send_signal(proc, "SIGINT") is True  # every graceful stop is CTRL_BREAK_EVENT
    assert api.log == [("GenerateConsoleCtrlEvent", platform.CTRL_BREAK_EVENT, proc.pid)] * 2
    api.log.clear()

    assert platform.signal_process(proc, "SIGHUP") is False  # config push: HTTP on Windows
    assert api.log == []

    platform.kill_tree(proc)
    assert api.log == [("TerminateJobObject", api.JOB, platform.KILLED_EXIT_CODE)]
    api.log.clear()

    proc.returncode = 1
    assert platform.send_signal(proc, "SIGTERM") is False  # gone: nothing sent
    platform.release(proc)
    platform.release(proc)
    assert api.log == [("CloseHandle", api.JOB)]  # closed once
    api.log.clear()
    platform.kill_tree(proc)  # after release: no job, process gone, nothing to do
    assert api.log == []


def test_windows_generation_uses_the_platform(win: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, api, _ = win
    monkeypatch.setattr(platform, "_BACKEND", backend)
    generation = Generation(4, Path("api-4.exe"), "api")
    generation.proc = platform.spawn(["api-4.exe"], {}, ".")
    api.log.clear()
    generation.request_stop("SIGTERM")
    generation.kill()
    generation.proc.returncode = 1
    generation.finished(1)
    assert api.log == [
        ("GenerateConsoleCtrlEvent", platform.CTRL_BREAK_EVENT, generation.pid),
        ("TerminateJobObject", api.JOB, platform.KILLED_EXIT_CODE),
        ("CloseHandle", api.JOB),
    ]


def test_windows_undelivered_ctrl_break_is_reported_by_the_generation(
        win: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """No console (pythonw, a service; Wine 8 for any child): the generation says its stop was not delivered."""
    backend, api, _ = win
    monkeypatch.setattr(platform, "_BACKEND", backend)
    generation = Generation(5, Path("api-5.exe"), "api")
    generation.proc = platform.spawn(["api-5.exe"], {}, ".")
    api.fail["GenerateConsoleCtrlEvent"] = 0
    assert generation.request_stop("SIGTERM") is False
    assert platform.stop_failure() == "GenerateConsoleCtrlEvent failed: Windows error 5"
    generation.proc.returncode = 0
    assert generation.request_stop("SIGTERM") is True  # already gone: nothing to report


def test_windows_sigkill_stop_terminates_the_job(win: Any) -> None:
    backend, api, _ = win
    proc = backend.spawn(["svc.exe"], {}, ".")
    api.log.clear()
    assert backend.stop(proc, "SIGKILL") is True
    assert api.names() == ["TerminateJobObject"]


def test_windows_build_tool_gets_a_job_too(win: Any) -> None:
    backend, api, _ = win
    proc = backend.spawn_tool(["go", "build", "-o", "x.exe", "."], {}, ".")
    assert proc.kwargs["creationflags"] & platform.CREATE_SUSPENDED
    assert "AssignProcessToJobObject" in api.names() and "NtResumeProcess" in api.names()


def test_windows_job_closes_when_the_process_object_goes(win: Any) -> None:
    backend, api, popen = win
    backend.spawn(["svc.exe"], {}, ".")
    api.log.clear()
    popen.made.clear()
    gc.collect()
    assert api.log == [("CloseHandle", api.JOB)]


def test_windows_inherit_mode_is_refused(win: Any) -> None:
    backend, api, _ = win
    with pytest.raises(OSError, match="reuseport"):
        backend.spawn(["svc.exe"], {}, ".", inherited=[5])
    assert api.log == []


def test_windows_no_job_no_process(win: Any) -> None:
    backend, api, popen = win
    api.fail["CreateJobObjectW"] = 0
    with pytest.raises(OSError, match=r"CreateJobObjectW failed \(Windows error 5\)"):
        backend.spawn(["svc.exe"], {}, ".")
    assert popen.made == []


def test_windows_assign_failure_kills_the_suspended_process(win: Any) -> None:
    backend, api, popen = win
    api.fail["AssignProcessToJobObject"] = 0
    with pytest.raises(OSError, match="AssignProcessToJobObject"):
        backend.spawn(["svc.exe"], {}, ".")
    names = api.names()
    assert "NtResumeProcess" not in names  # never ran outside the job
    assert names[-4:] == ["CloseHandle", "TerminateJobObject", "CloseHandle", "Popen.kill"]
    assert popen.made[0].returncode is not None


def test_windows_resume_failure_is_a_spawn_error(win: Any) -> None:
    backend, api, _ = win
    api.fail["NtResumeProcess"] = -1073741790  # STATUS_ACCESS_DENIED
    with pytest.raises(OSError, match="0xc0000022"):
        backend.spawn(["svc.exe"], {}, ".")
    assert ("TerminateJobObject", api.JOB, platform.KILLED_EXIT_CODE) in api.log


def test_windows_kill_without_job_falls_back_to_the_process_tree(
        win: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    backend, api, _ = win
    proc = backend.spawn(["svc.exe"], {}, ".")
    api.fail["TerminateJobObject"] = 0
    killed: List[int] = []
    monkeypatch.setattr(platform.windows, "kill_tree_psutil", killed.append)
    backend.kill_tree(proc)
    assert killed == [proc.pid]


# -- macOS / BSD with fakes ---------------------------------------------------------------

def test_darwin_spawn_wraps_with_the_parent_watcher_and_no_prctl(monkeypatch: pytest.MonkeyPatch) -> None:
    prctl_calls: List[Call] = []

    def prctl(*args: int) -> int:
        prctl_calls.append(args)
        return 0

    monkeypatch.setattr(platform, "_PRCTL", prctl)
    log: List[Call] = []
    popen = FakePopen(log)
    backend = platform.make_backend("darwin", popen=popen)
    assert isinstance(backend, platform.PosixBackend)
    assert backend.prctl is None and backend.parent_watch

    proc = backend.spawn(["/srv/api-2", "-v"], {"A": "1"}, "/srv")
    assert isinstance(proc, FakeProc)
    command = proc.args
    assert command[:2] == ["/bin/sh", "-c"] and command[3:] == ["/srv/api-2", "-v"]
    shim = command[2]
    assert "read hotgo_eof <&9; kill -s KILL -- -$$" in shim and "9<&0" in shim
    assert "trap '' HUP INT QUIT TERM" in shim  # a draining group keeps its watcher
    assert shim.endswith('exec "$0" "$@"') and "LISTEN_PID" not in shim
    assert isinstance(proc.kwargs["stdin"], int)  # the pipe's read end becomes the shell's stdin
    assert proc.kwargs["start_new_session"] is True and proc.kwargs["close_fds"] is False
    assert proc.kwargs["env"] == {"A": "1"}
    proc.kwargs["preexec_fn"]()  # no inherited fds: only what it would do about parent death
    assert prctl_calls == []
    (write_end,) = backend._pipes.values()
    os.fstat(write_end)  # hotgo keeps the write end open...
    backend.release(proc)
    with pytest.raises(OSError):
        os.fstat(write_end)  # ...until the service is reaped

    inherited = backend.spawn(["/srv/api-3"], {}, "/srv", inherited=[7])
    assert isinstance(inherited, FakeProc)
    assert 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"' in inherited.args[2]
    backend.release(inherited)


def test_darwin_signals_go_to_the_group(monkeypatch: pytest.MonkeyPatch) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    sent: List[Call] = []
    monkeypatch.setattr(os, "killpg", lambda pid, sig: sent.append(("killpg", pid, sig)))
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append(("kill", pid, sig)))
    backend = platform.make_backend("darwin", popen=FakePopen([]))
    proc: Any = FakeProc([], [], {}, pid=321)
    assert backend.stop(proc, "SIGTERM") is True
    assert backend.signal_process(proc, "SIGHUP") is True
    backend.kill_tree(proc)
    assert sent == [("killpg", 321, signal.SIGTERM), ("kill", 321, signal.SIGHUP), ("killpg", 321, signal.SIGKILL)]


def test_linux_backend_uses_prctl_and_the_watcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "_PRCTL", lambda option, value: 0)
    backend = platform.make_backend("linux", popen=FakePopen([]))
    assert isinstance(backend, platform.PosixBackend)
    assert backend.prctl is platform._PRCTL and backend.parent_watch  # PDEATHSIG misses grandchildren
    proc: Any = backend.spawn(["/srv/api"], {}, "/srv")
    assert proc.args[:2] == ["/bin/sh", "-c"] and proc.args[-1] == "/srv/api"
    backend.release(proc)


# -- POSIX with real processes (Linux here) --------------------------------------------------

def _fd_target(pid: int, fd: int) -> str:
    return os.readlink(f"/proc/{pid}/fd/{fd}")


def _environ(pid: int) -> Dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


def _group(pgid: int) -> List[int]:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (OSError, psutil.Error):
            continue
    return members


def _listener() -> socket.socket:
    sock = socket.socket()
    platform.set_listen_options(sock)
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


@pytest.fixture
def spawned() -> Iterator[List[subprocess.Popen[bytes]]]:
    procs: List[subprocess.Popen[bytes]] = []
    yield procs
    for proc in procs:
        platform.kill_tree(proc)
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


@needs_linux
@pytest.mark.parametrize("system", ["linux", "darwin"])
def test_inherited_listener_is_fd3_and_listen_pid_is_the_child(
        system: str, spawned: List[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    backend = platform.make_backend(system)
    sock = _listener()
    sleep = shutil.which("sleep") or "/bin/sleep"
    try:
        proc = backend.spawn([sleep, "30"], {"LISTEN_FDS": "1", "PATH": os.environ["PATH"]}, str(tmp_path),
                             [sock.fileno()])
        spawned.append(proc)
        wait_for(lambda: Path(f"/proc/{proc.pid}/exe").resolve() == Path(sleep).resolve(), what="exec of sleep")
        assert _fd_target(proc.pid, 3) == f"socket:[{os.fstat(sock.fileno()).st_ino}]"
        # exec publishes the new exe a moment before the new environment: wait for both.
        listen_pid = wait_for(lambda: _environ(proc.pid).get("LISTEN_PID"), what="the exec'd environment")
        assert listen_pid == str(proc.pid)
        assert os.getpgid(proc.pid) == proc.pid and os.getsid(proc.pid) == proc.pid
        assert _fd_target(proc.pid, 0) == "/dev/null"
        assert Path(os.readlink(f"/proc/{proc.pid}/cwd")) == tmp_path
    finally:
        sock.close()


@needs_linux
def test_watcher_fd9_does_not_clobber_a_listener(spawned: List[subprocess.Popen[bytes]]) -> None:
    """Eight listeners use fds 3..10: the macOS watcher's temporary fd 9 must leave them alone."""
    backend = platform.make_backend("darwin")
    socks = [_listener() for _ in range(8)]
    sleep = shutil.which("sleep") or "/bin/sleep"
    try:
        proc = backend.spawn([sleep, "30"], {"PATH": os.environ["PATH"]}, ".", [s.fileno() for s in socks])
        spawned.append(proc)
        wait_for(lambda: Path(f"/proc/{proc.pid}/exe").resolve() == Path(sleep).resolve(), what="exec of sleep")
        for index, sock in enumerate(socks):
            assert _fd_target(proc.pid, 3 + index) == f"socket:[{os.fstat(sock.fileno()).st_ino}]"
    finally:
        for sock in socks:
            sock.close()


# The grandchild writes its pid only once its trap is installed: a signal sent
# before that would kill it with the default action and the test would race.
GRANDCHILD = textwrap.dedent("""\
    sh -c '{trap}; echo $$ > {marker}.pid; while :; do sleep 0.05; done' &
    wait
""")


@needs_linux
def test_stop_sends_the_signal_to_the_whole_group(spawned: List[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    marker = tmp_path / "grandchild"
    script = GRANDCHILD.format(marker=marker, trap=f'trap "echo TERM > {marker}; exit 0" TERM')
    proc = platform.spawn(["/bin/sh", "-c", script], dict(os.environ), str(tmp_path))
    spawned.append(proc)
    wait_for(lambda: Path(f"{marker}.pid").exists() and Path(f"{marker}.pid").read_text().strip(),
             what="grandchild")
    grandchild = int(Path(f"{marker}.pid").read_text())
    assert os.getpgid(grandchild) == proc.pid
    assert platform.send_signal(proc, "SIGTERM") is True
    assert proc.wait(timeout=5) == -signal.SIGTERM
    wait_for(lambda: marker.exists() and marker.read_text().strip() == "TERM", what="TERM in the grandchild")
    assert platform.send_signal(proc, "SIGTERM") is False  # gone


@needs_linux
def test_kill_tree_kills_grandchildren(spawned: List[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    marker = tmp_path / "grandchild"
    script = GRANDCHILD.format(marker=marker, trap='trap "" TERM')  # the grandchild ignores SIGTERM
    proc = platform.spawn(["/bin/sh", "-c", script], dict(os.environ), str(tmp_path))
    spawned.append(proc)
    wait_for(lambda: Path(f"{marker}.pid").exists() and Path(f"{marker}.pid").read_text().strip(),
             what="grandchild")
    grandchild = int(Path(f"{marker}.pid").read_text())
    platform.kill_tree(proc)
    assert proc.wait(timeout=5) == -signal.SIGKILL
    wait_for(lambda: not _group(proc.pid), what="the whole group to die")
    assert not psutil.pid_exists(grandchild) or psutil.Process(grandchild).status() == psutil.STATUS_ZOMBIE


FAKE_HOTGO = textwrap.dedent("""\
    import os, sys, time
    sys.path.insert(0, {root!r})
    from hotgo import platform
    backend = platform.make_backend({system!r}, shell={shell!r})
    service = "trap '' TERM; sleep 60 & echo $! > {marker}; wait"
    proc = backend.spawn(["/bin/sh", "-c", service], dict(os.environ), ".")
    while not os.path.exists({marker!r}) or not open({marker!r}).read().strip():
        time.sleep(0.02)
    if {drain!r}:
        backend.stop(proc, "SIGTERM")  # the group ignores it: a drain that takes long
        time.sleep(0.2)
    print(proc.pid, flush=True)
    time.sleep(60)
""")


def _run_fake_hotgo_and_kill_it(tmp_path: Path, system: str, shell: str, drain: bool) -> Tuple[int, int]:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    marker = tmp_path / "sleep.pid"
    code = FAKE_HOTGO.format(root=str(REPO), system=system, shell=shell,
                             marker=str(marker), drain=drain)
    hotgo = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert hotgo.stdout is not None
        service = int(hotgo.stdout.readline())
        sleeper = int(marker.read_text())
        assert os.getpgid(sleeper) == service
        assert psutil.Process(service).status() != psutil.STATUS_ZOMBIE
    finally:
        hotgo.kill()  # SIGKILL: no cleanup code of hotgo runs
        hotgo.wait()
        if hotgo.stdout is not None:
            hotgo.stdout.close()
    return service, sleeper


@needs_linux
@pytest.mark.parametrize("shell", ["/bin/sh", "/bin/bash"])
@pytest.mark.parametrize("drain", [False, True])
def test_macos_parent_watcher_kills_the_group_when_hotgo_is_killed(tmp_path: Path, shell: str, drain: bool) -> None:
    """The darwin mechanism is plain POSIX: run it for real here (dash and bash as /bin/sh)."""
    if not Path(shell).exists():
        pytest.skip(f"{shell} missing")
    service, sleeper = _run_fake_hotgo_and_kill_it(tmp_path, "darwin", shell, drain)
    wait_for(lambda: gone(service) and gone(sleeper), timeout=5, what="the service group to die with hotgo")


@needs_linux
@pytest.mark.parametrize("drain", [False, True])
def test_linux_kills_the_whole_group_when_hotgo_is_killed(tmp_path: Path, drain: bool) -> None:
    """PR_SET_PDEATHSIG ends the service; the pipe watcher the rest of its group (its sleep)."""
    service, sleeper = _run_fake_hotgo_and_kill_it(tmp_path, "linux", "/bin/sh", drain=drain)
    wait_for(lambda: gone(service) and gone(sleeper), timeout=20, what="the service group to die with hotgo")


@needs_linux
def test_macos_watcher_ends_with_release(spawned: List[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("POSIX process groups and signals")
    backend = platform.make_backend("darwin")
    proc = backend.spawn(["/bin/sh", "-c", "sleep 60 & wait"], dict(os.environ), str(tmp_path))
    spawned.append(proc)
    wait_for(lambda: len(_group(proc.pid)) == 3, what="service, its sleep and the watcher")
    os.kill(proc.pid, signal.SIGKILL)  # only the service process
    proc.wait(timeout=5)
    assert _group(proc.pid)  # the watcher and the sleep remain...
    backend.release(proc)
    wait_for(lambda: not _group(proc.pid), what="the rest of the group to go")  # ...until hotgo reaps it


# -- the seam: capabilities ---------------------------------------------------------------

def test_capabilities_by_os() -> None:
    windows = platform.capabilities_for("win32")
    assert not (windows.signals or windows.fd_inheritance or windows.notify_socket or windows.unix_control_socket)
    assert not (windows.proc_net or windows.inotify or windows.reuseport or windows.exec_bit)
    assert windows.reuseaddr_shares_port and windows.exe_suffix == ".exe"
    mac = platform.capabilities_for("darwin", proc_net=True)  # no /proc there, whatever is found
    assert mac.signals and mac.fd_inheritance and mac.notify_socket and mac.unix_control_socket and mac.reuseport
    assert mac.watch_replays_history and not (mac.proc_net or mac.inotify or mac.large_output_pipe)
    assert mac.exe_suffix == "" and mac.exec_bit and not mac.reuseaddr_shares_port
    linux = platform.capabilities_for("linux", proc_net=True)
    assert linux.proc_net and linux.inotify and linux.large_output_pipe and not linux.watch_replays_history
    assert not platform.capabilities_for("linux", proc_net=False).proc_net  # a /proc without fdinfo
    # What a name, a path and one argument may hold (issue 23): NAME_MAX, PATH_MAX and MAX_ARG_STRLEN less a NUL
    assert (linux.name_unit, linux.name_max, linux.path_max, linux.arg_max) == ("bytes", 255, 4095, 131071)
    assert (mac.name_unit, mac.name_max, mac.path_max) == ("bytes", 255, 1023)
    assert (windows.name_unit, windows.name_max, windows.path_max, windows.arg_max) == ("UTF-16 units", 255,
                                                                                       32766, 32766)
    assert platform.capabilities_for(sys.platform, proc_net=LINUX) == platform.CAPABILITIES


def test_only_the_platform_package_asks_which_os() -> None:
    """sys.platform and os.name are read in hotgo/platform/ only; the rest asks CAPABILITIES."""
    package = Path(platform.__file__).resolve().parents[1]
    asking = []
    for path in sorted(package.rglob("*.py")):
        if path.parent.name == "platform" and path.parent.parent == package:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and (node.value.id, node.attr) in (("sys", "platform"), ("os", "name"))):
                asking.append(f"{path.relative_to(package)}:{node.lineno}")
            elif isinstance(node, ast.ImportFrom) and node.module in ("sys", "os"):
                asking += [f"{path.relative_to(package)}:{node.lineno}" for a in node.names
                           if a.name in ("platform", "name")]
    assert not asking, f"OS tests outside hotgo/platform/: {asking}"


def test_windows_capabilities_refuse_what_windows_cannot_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "CAPABILITIES", platform.capabilities_for("win32"))
    listen = (parse_listen("127.0.0.1:8080"),)
    with pytest.raises(UsageError, match="POSIX descriptor passing"):
        resolve({"run_listen": listen, "run_socket": "inherit"})
    with pytest.raises(UsageError, match="Windows has no signals"):
        resolve({"run_listen": listen, "run_socket": "reuseport", "config_push": "signal:SIGHUP"})
    with pytest.raises(UsageError, match="NOTIFY_SOCKET"):
        resolve({"run_listen": listen, "run_socket": "reuseport", "config_push": "restart", "run_ready": "notify"})
    assert platform.stop_description("SIGTERM") == "CTRL_BREAK_EVENT"
    assert platform.stop_description("SIGKILL") == "SIGKILL"


def test_every_backend_says_why_a_stop_failed(win: Any) -> None:
    """stop_error is part of the Backend protocol: POSIX has nothing to say, Windows the API's error."""
    assert platform.make_backend("darwin", popen=FakePopen([])).stop_error == ""
    backend, api, _ = win
    proc = backend.spawn(["svc.exe"], {}, ".")
    assert backend.stop_error == ""
    api.fail["GenerateConsoleCtrlEvent"] = 0
    assert backend.stop(proc, "SIGTERM") is False
    assert backend.stop_error == "GenerateConsoleCtrlEvent failed: Windows error 5"


# -- who listens: one lookup, /proc on Linux, psutil elsewhere ------------------------------------

@pytest.fixture(params=["os", "psutil"])
def lookup(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """This OS's way (/proc on Linux), and psutil's, which macOS and Windows use."""
    if request.param == "psutil":
        monkeypatch.setattr(listeners, "CAPABILITIES", platform.capabilities_for("darwin"))
    return str(request.param)


def test_listeners_of_a_process(lookup: str) -> None:
    sock = _listener()
    port = sock.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    served, _ = sock.accept()
    try:
        found = [s for s in listeners.listening(os.getpid()) or [] if s.port == port]
        inode = os.fstat(sock.fileno()).st_ino if lookup == "os" and LINUX else 0
        assert found == [listeners.Listener("127.0.0.1", port, inode)]
        assert f"127.0.0.1:{port}" in listeners.listen_addresses(os.getpid())
        assert listeners.listens_on(os.getpid(), port) is True
        assert listeners.listens_on(os.getpid(), port, family=True) is True
        assert listeners.established(os.getpid(), [port]) == 1  # the served side; the client's port differs
        assert (listeners.holder(port) or "").startswith(f"pid {os.getpid()} (")
    finally:
        for s in (client, served, sock):
            s.close()
    assert listeners.listens_on(os.getpid(), port) is False
    assert listeners.holder(port) is None


def test_a_gone_process_listens_nowhere(lookup: str) -> None:
    proc = subprocess.Popen(["sh", "-c", "exit 0"])
    wait_for(lambda: gone(proc.pid), what="a zombie")  # not reaped yet: its sockets are closed
    assert listeners.listening(proc.pid) == []
    assert listeners.listens_on(proc.pid, 80, family=True) is False
    proc.wait()
    assert listeners.listening(proc.pid) == [] and listeners.established(proc.pid, [80]) == 0


def test_listener_addresses_as_listen_takes_them() -> None:
    assert listeners.Listener("0.0.0.0", 80).address == ":80"
    assert listeners.Listener("::", 80).address == ":80"
    assert listeners.Listener("::1", 8080).address == "[::1]:8080"
    assert listeners.Listener("10.0.0.2", 8080).address == "10.0.0.2:8080"


class _OldPsutilProcess:
    """psutil 5.x: the method is called connections; Windows' may raise RuntimeError."""

    pid = 77

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    def connections(self, kind: str = "inet") -> List[Any]:
        if self.fail:
            raise RuntimeError("GetExtendedTcpTable failed")
        return [SimpleNamespace(laddr=SimpleNamespace(ip="127.0.0.1", port=8080), status=psutil.CONN_LISTEN)]


def test_listeners_with_psutil_5(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(listeners, "CAPABILITIES", platform.capabilities_for("darwin"))
    monkeypatch.setattr(listeners, "NET_CONNECTIONS", False)
    monkeypatch.setattr(psutil, "Process", lambda pid: _OldPsutilProcess(fail=pid == 78))
    assert listeners.listening(77) == [listeners.Listener("127.0.0.1", 8080)]
    assert listeners.listening(78) is None  # the OS would not say (Wine 8, often)
    assert listeners.listens_on(78, 8080) is None


# -- readiness ---------------------------------------------------------------------------------

def test_auto_readiness_is_a_probe_where_there_is_no_notify_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "CAPABILITIES", platform.capabilities_for("win32"))
    assert readiness.plan("auto", listening=True) == readiness.ReadyPlan(ReadyKind.HTTP, path="/", auto=True)
    assert readiness.plan("auto", listening=False) == readiness.ReadyPlan(ReadyKind.AUTO)  # nothing to probe
    assert readiness.plan("http:/healthz", listening=True) == readiness.ReadyPlan(ReadyKind.HTTP, path="/healthz")
    monkeypatch.setattr(platform, "CAPABILITIES", platform.capabilities_for("darwin"))
    assert readiness.plan("auto", listening=True) == readiness.ReadyPlan(ReadyKind.AUTO)
    assert readiness.plan("auto") == readiness.ReadyPlan(ReadyKind.AUTO)


class _Answers(http.server.BaseHTTPRequestHandler):
    status = 200
    generation: Optional[str] = None

    def do_GET(self) -> None:
        self.send_response(self.status)
        if self.generation is not None:
            self.send_header(readiness.GENERATION_HEADER, self.generation)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_service() -> Iterator[Callable[[int, Optional[str]], str]]:
    servers: List[http.server.ThreadingHTTPServer] = []

    def start(status: int, generation: Optional[str]) -> str:
        handler = type("Handler", (_Answers,), {"status": status, "generation": generation})
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def _probe(url: str, generation: int, wait: float, **options: Any) -> Tuple[List[str], float]:
    verdicts: List[str] = []
    done = threading.Event()
    began = time.monotonic()

    def on_ready(how: str) -> None:
        verdicts.append(how)
        done.set()

    probe = readiness.HttpProbe(url, generation, on_ready, **options)
    done.wait(wait)
    probe.stop()
    return verdicts, time.monotonic() - began


def test_auto_probe_counts_any_status_from_this_generation(http_service: Any) -> None:
    verdicts, took = _probe(http_service(404, "2"), 2, 3.0, auto=True)
    assert verdicts == ["GET / answered 404 from this generation"] and took < 1.0


def test_strict_probe_needs_2xx(http_service: Any) -> None:
    assert _probe(http_service(404, "2"), 2, 0.4)[0] == []
    assert _probe(http_service(200, "2"), 2, 3.0)[0] == ["GET / answered 200 from this generation"]
    assert _probe(http_service(200, None), 2, 3.0)[0] == [
        "GET / answered 200 (no X-Hotgo-Generation header: heuristic)"]
    assert _probe(http_service(404, None), 2, 0.4)[0] == []


def test_probe_reaching_only_the_old_generation(http_service: Any) -> None:
    """Windows may keep routing to the old listener: a new process seen listening counts (heuristic)."""
    url = http_service(200, "1")
    assert _probe(url, 2, 0.3, auto=True)[0] == []  # the old one's answer alone never counts
    # Without a pid to look at, auto falls back to the same delay as on POSIX.
    verdicts, took = _probe(url, 2, 3.0, auto=True)
    assert verdicts == ["GET / reached generation 1; still running after 500ms (heuristic)"]
    assert took >= readiness.AUTO_DELAY - 0.05
    assert _probe(url, 2, 0.8)[0] == []  # strict, no pid: never
    # This test process owns the listening socket, so it stands in for the new generation.
    verdicts, took = _probe(url, 2, 3.0, auto=True, pid=os.getpid())
    port = url.rsplit(":", 1)[1].strip("/")
    assert verdicts == [f"GET / reached generation 1; generation 2 listens on port {port} (heuristic)"]
    assert took >= readiness.LISTEN_GRACE  # (an upper bound failed under CI load: the verdict above says it came)
    verdicts, _ = _probe(url, 2, 3.0, pid=os.getpid())  # strict mode too
    assert len(verdicts) == 1 and "listens on port" in verdicts[0]


def test_auto_probe_without_the_header_is_a_heuristic(http_service: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(readiness, "listens_on", lambda pid, port: None)  # cannot tell
    verdicts, took = _probe(http_service(404, None), 2, 3.0, auto=True, pid=12345)
    assert verdicts == ["GET / answered 404 without X-Hotgo-Generation; still running after 500ms (heuristic)"]
    assert took >= readiness.AUTO_DELAY - 0.05


# -- macOS FSEvents history ---------------------------------------------------------------------

def test_darwin_watcher_drops_replayed_history(tmp_path: Path) -> None:
    rules = PathFilter(tmp_path, DEFAULT_INCLUDE, DEFAULT_EXCLUDE)
    watcher = Watcher([rules], 0.05, 2.0, False, lambda change: None, log=None)  # type: ignore[arg-type]
    old, new = tmp_path / "old.go", tmp_path / "new.go"
    old.write_text("package a")
    new.write_text("package a")
    future = time.time() + 100
    os.utime(new, (future, future))  # changed "after" the scan below
    watcher._scan_began = time.time() + 10  # everything on disk now predates the scan
    watcher._replay_until = time.monotonic() + 10
    watcher.record(FileModifiedEvent(str(old)))
    assert watcher._files == set()  # replayed history: dropped
    watcher.record(FileModifiedEvent(str(new)))
    watcher.record(FileDeletedEvent(str(tmp_path / "gone.go")))
    assert watcher._files == {new, tmp_path / "gone.go"}
    watcher._replay_until = 0.0  # after the window (and on every other OS) nothing is dropped
    watcher.record(FileModifiedEvent(str(old)))
    assert old in watcher._files


ARENAS = textwrap.dedent('''
    import ctypes, sys, threading
    from hotgo import platform

    limited = platform.limit_malloc_arenas(1) if sys.argv[1] == "limit" else None
    together = threading.Barrier(9)

    def work() -> None:
        blocks = [bytearray(4096) for _ in range(64)]  # from malloc: more than pymalloc's 512 bytes
        together.wait()  # eight threads alive and allocating at once, as hotgo's during a handoff
        together.wait()
        del blocks

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    together.wait()
    ctypes.CDLL(None).malloc_stats()  # to stderr: one "Arena N:" block per arena
    together.wait()
    for thread in threads:
        thread.join()
    print(limited)
''')


def skip_without_glibc(what: str) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("glibc")
    try:
        os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):
        pytest.skip(f"not glibc: {what}")


@needs_linux
def test_threads_share_one_malloc_arena_once_limited() -> None:
    """glibc gives concurrent threads arenas of their own, which keep what they once held: hotgo
    limits them to one before its first thread (RSS stays flat over a day of reloads)."""
    skip_without_glibc("no malloc arenas to limit")
    counts = {}
    for mode in ("limit", "default"):
        done = subprocess.run([sys.executable, "-c", ARENAS, mode], capture_output=True, text=True, timeout=60,
                              cwd=REPO, check=True)
        counts[mode] = (done.stdout.strip(), done.stderr.count("Arena "))
    assert counts["limit"] == ("True", 1)
    assert counts["default"][1] > 1  # what it would be: the threads' own arenas


TRIM = textwrap.dedent("""
    from hotgo import platform

    def rss() -> int:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * 4096

    blocks = [bytearray(4000) for _ in range(8000)]  # 32 MB from malloc's heap, in small pieces
    kept = blocks[::64]  # what a reload leaves: a little, spread over the heap
    del blocks
    before = rss()
    trimmed = platform.trim_malloc()
    print(trimmed, (before - rss()) // 2**20)
""")


@needs_linux
def test_freed_malloc_memory_is_given_back_once_trimmed() -> None:
    """A generation gone, what its reload allocated is free: hotgo's RSS comes back down to what is live."""
    skip_without_glibc("no malloc_trim")
    done = subprocess.run([sys.executable, "-c", TRIM], capture_output=True, text=True, timeout=60, cwd=REPO,
                          check=True)
    trimmed, released_mb = done.stdout.split()
    assert trimmed == "True" and int(released_mb) >= 16, done.stdout
