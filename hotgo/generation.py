"""One running process of the service: spawn, output, exit, stop, kill."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from enum import Enum
from pathlib import Path
from typing import Callable, Deque, Dict, List, Optional, Sequence, Tuple

from hotgo import platform
from hotgo.log import Log
from hotgo.notify import Message, NotifyChannel


class State(str, Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


RECENT_LINES = 20
READ_SIZE = 64 * 1024


class Generation:
    def __init__(self, number: int, binary: Path, name: str) -> None:
        self.number = number
        self.binary = binary
        self.name = name
        self.state = State.STARTING
        self.proc: Optional[subprocess.Popen[bytes]] = None
        self.notify: Optional[NotifyChannel] = None
        self.started = 0.0  # monotonic
        self.started_wall = 0.0
        self.ready_at = 0.0
        self.stop_sent = 0.0
        self.status = ""  # last STATUS= from the service
        self.exit_code: Optional[int] = None
        self.replaced_by: Optional[int] = None  # the generation that took over from this one
        self.recent: Deque[str] = deque(maxlen=RECENT_LINES)  # its last output lines, for diagnoses
        self.own_listen: Tuple[str, ...] = ()  # it listens here itself instead of on the shared socket

    @property
    def pid(self) -> int:
        return self.proc.pid if self.proc is not None else 0

    def start(
        self,
        args: Sequence[str],
        env: Dict[str, str],
        cwd: Path,
        inherited: Sequence[int],
        notify_dir: Path,
        log: Log,
        on_message: Callable[[int, Message], None],
        on_exit: Callable[[int, int], None],
    ) -> None:
        number = self.number
        self.notify = NotifyChannel(notify_dir, number, lambda message: on_message(number, message))
        if self.notify.address:
            env = {**env, "NOTIFY_SOCKET": self.notify.address}
        self.started = time.monotonic()
        self.started_wall = time.time()
        try:
            self.proc = platform.spawn([str(self.binary), *args], env, str(cwd), inherited)
        except OSError:
            self.notify.close()
            raise
        proc = self.proc
        pump = threading.Thread(target=self._pump, args=(proc, log), name=f"hotgo-out-{number}", daemon=True)
        pump.start()

        def wait() -> None:
            code = proc.wait()
            pump.join(timeout=0.5)  # let its last lines print before the exit is reported
            on_exit(number, code)

        threading.Thread(target=wait, name=f"hotgo-wait-{number}", daemon=True).start()

    def _pump(self, proc: subprocess.Popen[bytes], log: Log) -> None:
        """Read the service's output as fast as it comes, whole reads at a time (never a line at a time)."""
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        partial = b""
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except OSError:
                chunk = b""
            if not chunk:
                break
            pieces = (partial + chunk).split(b"\n")
            partial = pieces.pop()
            if len(partial) >= READ_SIZE:  # a line without end: pass it on in pieces
                pieces.append(partial)
                partial = b""
            if pieces:
                self._relay(pieces, log, proc.pid)
        if partial:
            self._relay([partial], log, proc.pid)

    def _relay(self, pieces: List[bytes], log: Log, pid: int) -> None:
        lines = [piece.decode(errors="replace").rstrip("\r") for piece in pieces]
        self.recent.extend(lines[-RECENT_LINES:])
        log.service(self.name, self.number, lines, pid)

    def request_stop(self, signal_name: str) -> bool:
        """False when the stop could not be delivered to a process that is still running."""
        if self.state is not State.STOPPED:
            self.state = State.DRAINING
            self.stop_sent = time.monotonic()
        if self.proc is None or platform.send_signal(self.proc, signal_name):
            return True
        return self.proc.poll() is not None

    def kill(self) -> None:
        if self.proc is not None:
            platform.kill_tree(self.proc)

    def finished(self, code: int) -> None:
        self.exit_code = code
        self.state = State.STOPPED
        if self.notify is not None:
            self.notify.close()
        if self.proc is not None:
            # Reaped: drop its job handle (Windows) or parent-watch pipe (macOS/BSD), which
            # also ends whatever it left behind in its job or process group.
            platform.release(self.proc)


def describe_exit(code: int) -> str:
    if code < 0:
        import signal

        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
