"""One running process of the service: spawn, output, exit, stop, kill."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections import deque
from enum import Enum
from pathlib import Path
from typing import Callable, Deque, Dict, Optional, Sequence, Tuple

from hotgo import platform
from hotgo.handoff.notify import Message, NotifyChannel
from hotgo.log import Log


class State(str, Enum):
    STARTING = "starting"
    READY = "ready"
    DRAINING = "draining"
    STOPPED = "stopped"


RECENT_LINES = 20
READ_SIZE = 64 * 1024
# After a short read, let output gather this long: one pass per several ms instead of one per
# write of the service (a logger flushing every line). On Linux the pipe is enlarged to 1 MiB
# to hold it; elsewhere it holds 64 KiB, so the pause is shorter there.
GATHER = 0.02 if platform.CAPABILITIES.large_output_pipe else 0.005


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
        """Read the service's output as fast as it comes and pass it on a read at a time.

        Per read, not per line: the work per line happens in C (decode, replace, count),
        which keeps relaying a service that logs 50k lines/s to a few percent of a core.
        """
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        platform.enlarge_pipe(fd)
        partial = b""
        while True:
            try:
                chunk = os.read(fd, READ_SIZE)
            except OSError:
                chunk = b""
            if not chunk:
                break
            if len(chunk) < READ_SIZE // 2:
                time.sleep(GATHER)
            data = partial + chunk if partial else chunk
            end = data.rfind(b"\n") + 1
            if end == 0 and len(data) < READ_SIZE:
                partial = data  # no line is complete yet
                continue
            if end == 0:  # a line without end: pass it on in pieces
                end, data = len(data) + 1, data + b"\n"
            partial = data[end:]
            self._relay(data[:end], log, proc.pid)
        if partial:
            self._relay(partial + b"\n", log, proc.pid)
        proc.stdout.close()  # the pipe has ended: its descriptor goes now, not when the Popen is collected

    def _relay(self, lines: bytes, log: Log, pid: int) -> None:
        """`lines`: whole lines, each ending in a newline."""
        text = lines.decode(errors="replace")
        if "\r" in text:
            text = text.replace("\r\n", "\n")
        self.recent.extend(text.rsplit("\n", RECENT_LINES + 1)[-RECENT_LINES - 1:-1])
        log.service(self.name, self.number, text, pid)

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
