"""What every backend offers (Backend) and what this OS lets hotgo do (Capabilities).

`capabilities_for` is the one place that turns an OS name into answers. Outside
hotgo/platform/ nobody tests sys.platform or os.name: code asks a capability by
its name (`platform.CAPABILITIES.fd_inheritance`) or calls a platform function.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable, Dict, List, Protocol, Sequence

from hotgo.platform import linux_proc

PopenFactory = Callable[..., "subprocess.Popen[bytes]"]


@dataclass(frozen=True)
class Capabilities:
    """What this OS lets hotgo do; each field is one question the rest of hotgo asks."""

    # POSIX signals reach a service: a stop signal by name, a `signal:` config push (not Windows).
    signals: bool
    # Listening sockets pass to a child as fds 3.. (socket mode inherit, LISTEN_FDS) (not Windows).
    fd_inheritance: bool
    # hotgo gives each generation a NOTIFY_SOCKET (unix datagrams) for READY=1 / STOPPING=1 (not Windows).
    notify_socket: bool
    # The control endpoint is a 0600 unix socket; else loopback TCP with a token file (Windows).
    unix_control_socket: bool
    # /proc shows another process's fds, epoll sets and the TCP table (Linux).
    proc_net: bool
    # The native file watcher is inotify: its queue can overflow, /proc counts its watches (Linux).
    inotify: bool
    # The native file watcher first replays recent history, to be dropped (macOS FSEvents).
    watch_replays_history: bool
    # SO_REUSEPORT: several listeners on one port (not Windows).
    reuseport: bool
    # SO_REUSEADDR lets a second socket bind a port in use (Windows): not for a port that must be ours alone.
    reuseaddr_shares_port: bool
    # A program needs the x permission bit to run (not Windows).
    exec_bit: bool
    # A service's output pipe can be enlarged to 1 MiB (Linux F_SETPIPE_SZ); else it holds 64 KiB.
    large_output_pipe: bool
    # A running program's file may lose its name to a new file (POSIX); Windows refuses while it runs.
    replace_running_binary: bool
    # The suffix of an executable's file name.
    exe_suffix: str
    # What the OS counts a name in: "bytes" (UTF-8, POSIX) or "UTF-16 units" (Windows).
    name_unit: str
    # The longest file name (NAME_MAX) and path (PATH_MAX less its NUL) the OS takes, in name_unit.
    name_max: int
    path_max: int
    # The longest single argument or environment entry (NAME=value) of a new process, in name_unit:
    # Linux's MAX_ARG_STRLEN less its NUL (kept elsewhere on POSIX too), Windows' command line.
    arg_max: int


def capabilities_for(system: str, proc_net: bool = False) -> Capabilities:
    """The capabilities of `system` (a sys.platform value); `proc_net`: /proc/self/fdinfo was found."""
    windows = system == "win32"
    linux = system.startswith("linux")
    return Capabilities(
        signals=not windows,
        fd_inheritance=not windows,
        notify_socket=not windows,
        unix_control_socket=not windows,
        proc_net=linux and proc_net,
        inotify=linux,
        watch_replays_history=system == "darwin",
        reuseport=not windows,
        reuseaddr_shares_port=windows,
        exec_bit=not windows,
        large_output_pipe=linux,
        replace_running_binary=not windows,
        exe_suffix=".exe" if windows else "",
        name_unit="UTF-16 units" if windows else "bytes",
        name_max=255,
        path_max=32766 if windows else 4095 if linux else 1023,
        arg_max=32766 if windows else 131071,
    )


CAPABILITIES = capabilities_for(sys.platform, proc_net=linux_proc.AVAILABLE)  # this machine's


class Backend(Protocol):
    """How processes are started, stopped and killed on one OS family (posix.py, windows.py)."""

    stop_error: str  # why the last graceful stop could not be delivered, if the OS said ("" if not)

    def spawn(self, argv: List[str], env: Dict[str, str], cwd: str,
              inherited: Sequence[int] = ()) -> subprocess.Popen[bytes]: ...

    def spawn_tool(self, argv: List[str], env: Dict[str, str], cwd: str,
                   stdin: int = subprocess.DEVNULL) -> subprocess.Popen[bytes]: ...

    def stop(self, proc: subprocess.Popen[bytes], name: str) -> bool: ...

    def signal_process(self, proc: subprocess.Popen[bytes], name: str) -> bool: ...

    def kill_tree(self, proc: subprocess.Popen[bytes]) -> None: ...

    def release(self, proc: subprocess.Popen[bytes]) -> None: ...


def signal_number(name: str) -> int:
    return int(getattr(signal, name))
