"""hotgo under the official Windows CPython in Wine (prepared by tests/windows/setup_wine.sh).

Every Windows process here gets a pty of its own as stdin: Wine gives it a console
there, which GenerateConsoleCtrlEvent needs. hotgo's output goes to a pipe (as under
nssm) unless piped=False, when Wine's console renders it on the pty with VT sequences
and CRLF, stripped here.
Windows processes are Linux processes too: their command line (in /proc) starts with
the Windows path of the executable, which is how tests find them and see them go.
"""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import sys
import termios
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import psutil
from harness import REPO, OutputLines

WINE_DIR = os.environ.get("HOTGO_WINE_DIR", "")
PYTHON_EXE = Path(WINE_DIR) / "python" / "python.exe"
_TERMINAL_NOISE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def unavailable() -> Optional[str]:
    """Why these tests cannot run here, or None."""
    if not WINE_DIR:
        return "HOTGO_WINE_DIR is not set (run tests/windows/setup_wine.sh DIR, then set it to DIR)"
    if not (Path(WINE_DIR) / "stamp").is_file():
        return f"{WINE_DIR} is not prepared (tests/windows/setup_wine.sh {WINE_DIR})"
    if shutil.which("wine") is None:
        return "wine is not installed"
    return None


def windows_path(path: Path) -> str:
    """Wine's Z: drive is the Linux root."""
    return "Z:" + str(path).replace("/", "\\")


def wine_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    return {**os.environ, "WINEPREFIX": str(Path(WINE_DIR) / "prefix"), "WINEDEBUG": "-all",
            "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **(extra or {})}


# The embeddable Python reads its path from ._pth only: put this checkout first, then run hotgo.
_BOOT = ("import sys, runpy; sys.path.insert(0, {repo!r}); "
         "runpy.run_module('hotgo', run_name='__main__', alter_sys=True)")


def hotgo_command(args: List[str]) -> List[str]:
    return ["wine", str(PYTHON_EXE), "-c", _BOOT.format(repo=windows_path(REPO)), *args]


def _open_terminal() -> Tuple[int, int]:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        raise OSError("a pty is POSIX: Wine runs from a POSIX host")
    master, slave = pty.openpty()
    # Wide enough that Wine's console never wraps a line.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 1000, 0, 0))
    return master, slave


class WinePython(OutputLines[bytes]):
    """The Windows python.exe under Wine, on its own pty, whose output is collected line by line."""

    def __init__(self, args: List[str], cwd: Path, env: Optional[Dict[str, str]] = None,
                 piped: bool = False) -> None:
        """piped: output to a pipe (as under nssm or `| tee`), the console kept as stdin."""
        master, slave = _open_terminal()
        output = subprocess.PIPE if piped else slave
        try:
            self.proc = subprocess.Popen(["wine", str(PYTHON_EXE), *args], cwd=cwd, env=wine_env(env),
                                         stdin=slave, stdout=output, stderr=subprocess.STDOUT if piped else slave,
                                         start_new_session=True)
        finally:
            os.close(slave)
        self._master = master
        self._source = self.proc.stdout.fileno() if self.proc.stdout is not None else master
        self.lines: List[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self) -> WinePython:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        pending = b""
        while True:
            try:
                chunk = os.read(self._source, 65536)
            except OSError:  # EIO: every holder of the pty's other end is gone
                chunk = b""
            if not chunk:
                break
            pending += chunk
            *complete, pending = pending.split(b"\n")
            with self._lock:
                self.lines.extend(_TERMINAL_NOISE.sub("", line.decode(errors="replace")) for line in complete)
        with self._lock:
            if pending.strip():
                self.lines.append(_TERMINAL_NOISE.sub("", pending.decode(errors="replace")))

    def wait_serving(self, generation_count: int = 1, timeout: float = 90) -> None:
        self.wait_line(r"generation \d+ serving", timeout, generation_count)

    def wait_exit(self, timeout: float = 60) -> int:
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hotgo did not exit:\n{self.output}") from None
        self._reader.join(timeout=5)
        return code

    def close(self) -> None:
        """Always called: leave nothing running, whatever the test did."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)
        self._reader.join(timeout=5)
        os.close(self._master)
        if self.proc.stdout is not None:
            self.proc.stdout.close()


class WineHotgo(WinePython):
    """A hotgo process under Wine; its output on a pipe, so Wine's console renders none of it."""

    def __init__(self, args: List[str], cwd: Path, env: Optional[Dict[str, str]] = None,
                 piped: bool = True) -> None:
        super().__init__(hotgo_command(args)[2:], cwd, env, piped)


def run_hotgo(args: List[str], cwd: Path, timeout: float = 90) -> Tuple[int, str]:
    """A one-shot hotgo command under Wine: exit code and output (stdout and stderr together)."""
    with WineHotgo(args, cwd) as hotgo:
        return hotgo.wait_exit(timeout), hotgo.output


def windows_processes(directory: Path) -> List[psutil.Process]:
    """Live Windows processes started from an executable under `directory`."""
    marker = windows_path(directory).lower()
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        try:
            if cmdline and cmdline[0].lower().startswith(marker) and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.Error:
            pass
    return found


def kill_windows_processes(directory: Path) -> None:
    """Safety net for a failed test: every Windows process started from under `directory`."""
    for proc in windows_processes(directory):
        try:
            proc.kill()
        except psutil.Error:
            pass
