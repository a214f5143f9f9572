"""Windows (WindowsBackend): Job Objects, CTRL_BREAK_EVENT, no signals, no fd inheritance.

The service binds the address itself with SO_REUSEADDR (socket mode reuseport).
Every process is started with CREATE_NEW_PROCESS_GROUP | CREATE_SUSPENDED,
assigned to its own Job Object with JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE and only
then resumed, so nothing it starts escapes the job. hotgo holds the only job
handle (not inheritable): when hotgo exits or dies, Windows closes it and kills
the whole tree. A graceful stop is CTRL_BREAK_EVENT to the child's process group
(Go reports it as os.Interrupt); there are no other signals, so config pushes go
over HTTP.

Importable on every OS: the API is loaded on first use, and tests hand the backend
a fake of it (tests/test_platform.py).
"""

from __future__ import annotations

import ctypes
import subprocess
import sys
import threading
import weakref
from typing import IO, Any, Dict, List, Optional, Protocol, Sequence, cast

from hotgo.platform.base import PopenFactory

GRACEFUL_STOP = "CTRL_BREAK_EVENT"  # what every graceful stop really delivers, for messages


def kill_tree_psutil(pid: int) -> None:
    """Kill a process and its descendants one by one (a process with no job)."""
    import psutil  # here: importing it costs every start of hotgo ~10 ms, on every OS

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

    def spawn_tool(self, argv: List[str], env: Dict[str, str], cwd: str,
                   stdin: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        return self._start(argv, env, cwd, stdin)

    def _start(self, argv: List[str], env: Dict[str, str], cwd: str,
               stdin: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]:
        api = self.api
        job = self._new_job()
        factory = self._popen or subprocess.Popen
        try:
            # Suspended until it is in the job: it cannot start a process outside it first.
            proc = factory(
                argv, env=env, cwd=cwd, stdin=stdin, stdout=subprocess.PIPE,
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
            kill_tree_psutil(proc.pid)

    def release(self, proc: subprocess.Popen[bytes]) -> None:
        """The service has been reaped: close its job, which kills anything it left behind."""
        self._close_job(id(proc))


def lock_file(handle: IO[str]) -> None:
    """An exclusive lock on a file's first byte, without waiting: OSError if another process holds it."""
    if sys.platform != "win32":
        raise OSError("msvcrt is Windows'")
    import msvcrt

    handle.seek(0)
    msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
