"""`--front ADDR`: the front door, a small Go proxy in front of the first listen address, run as
hotgo's child for the whole run (front/main.go says what it guarantees and why).

hotgo writes commands on its stdin ("pause ID SECONDS", "hold ID SECONDS", "resume ID"); a thread
reads its stdout and posts each answer to the loop as a `FrontAnswered`, so the loop never waits
on the front door (hotgo/loop/front_handoff.py acts on them).
"""

from __future__ import annotations

import itertools
import os
import queue
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable, Optional, Sequence

from hotgo import platform
from hotgo.browser.front_build import build_front
from hotgo.errors import UsageError
from hotgo.log import Log
from hotgo.settings.addresses import ListenAddress, parse_listen

START_WAIT = 10.0  # for its "listening ADDR" line
_WILDCARD_TO_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


@dataclass(frozen=True)
class FrontAnswered:
    """An answer of the front door: "paused", "held", "resumed"; "gone" once its output ended."""

    kind: str
    ask: int  # the command's id
    left: int  # requests still without their whole answer (paused) or its head (held)


class FrontDoor:
    """The running front door: commands on its stdin, answers posted from a reader thread."""

    def __init__(self, binary: Path, listen: str, upstream: str, hold: float,
                 post: Callable[[FrontAnswered], None]) -> None:
        self._post = post
        self._ids = itertools.count(1)
        self._first: queue.Queue[str] = queue.Queue()
        argv = [str(binary), "-listen", listen, "-upstream", upstream, "-hold", f"{hold:g}s"]
        self.proc = platform.spawn_tool(argv, dict(os.environ), str(binary.parent), stdin=subprocess.PIPE)
        self._stdin: IO[bytes] = self.proc.stdin  # type: ignore[assignment]
        threading.Thread(target=self._read, name="hotgo-front", daemon=True).start()
        try:
            first = self._first.get(timeout=START_WAIT)
        except queue.Empty:
            first = ""
        if not first.startswith("listening "):
            self.stop()
            raise UsageError(f"--front {listen}: {first or 'the front door did not start'}")
        self.address = first.split(" ", 1)[1]

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        started = False
        for raw in stdout:
            line = raw.decode(errors="replace").strip()
            if not started:  # its first line, or why it did not start (go's output goes here too)
                started = line.startswith("listening ")
                if started:
                    self._first.put(line)
                continue
            fields = line.split()
            if len(fields) >= 2 and fields[0] in ("paused", "held", "resumed") and fields[1].isdigit():
                left = int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else 0
                self._post(FrontAnswered(fields[0], int(fields[1]), left))
        if started:
            self._post(FrontAnswered("gone", 0, 0))
        else:
            self._first.put("")

    def send(self, command: str, wait: Optional[float] = None) -> int:
        """Write one command; its id, which the answer carries (0: the front door is gone)."""
        ask = next(self._ids)
        line = f"{command} {ask}" + (f" {wait:.3f}" if wait is not None else "")
        try:
            self._stdin.write(line.encode() + b"\n")
            self._stdin.flush()
        except (OSError, ValueError):  # gone: its reader posts "gone"
            return 0
        return ask

    def stop(self) -> None:
        try:
            self._stdin.close()  # its end of input ends it
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            platform.kill_tree(self.proc)
            self.proc.wait()
        platform.release(self.proc)


def open_front(listen: str, addresses: Sequence[ListenAddress], go: str, state_dir: Path, hold: float,
               post: Callable[[FrontAnswered], None], log: Log) -> FrontDoor:
    """Build (if needed) and start the front door in front of the first listen address."""
    where = parse_listen(listen)
    target = addresses[0]
    host = _WILDCARD_TO_LOOPBACK.get(target.host, target.host)
    upstream = f"[{host}]:{target.port}" if ":" in host else f"{host}:{target.port}"
    binary = build_front(go or "go", state_dir)
    door = FrontDoor(binary, str(where), upstream, hold, post)
    log.info(f"front door: {door.address} (proxy to {target}): requests held up to {hold:g} s while no "
             "generation accepts", event="front", address=door.address)
    return door
