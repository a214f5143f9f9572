"""A generation's process on this machine: once it has exited and the loop has seen it, nothing of it stays."""

from __future__ import annotations

import io
import os
import queue
import threading
from pathlib import Path
from typing import List

import pytest
from harness import wait_for

from hotgo import platform
from hotgo.handoff.generation import Generation
from hotgo.log import Log


def open_descriptors() -> List[str]:
    """What this process has open, for the failure message (Linux shows it; elsewhere the numbers)."""
    shown = []
    for fd in os.listdir("/dev/fd"):
        try:
            shown.append(f"{fd}: {os.readlink(f'/dev/fd/{fd}')}")
        except OSError:
            shown.append(fd)
    return shown


@pytest.mark.skipif(not platform.CAPABILITIES.fd_inheritance, reason="POSIX descriptors and process groups")
def test_an_exited_generation_holds_no_descriptor_and_no_thread(tmp_path: Path) -> None:
    """Even while something still holds the Generation (a timer, a report, `hotgo status`), its output
    pipe, notify socket and parent-watch pipe are closed and its threads have ended."""
    out = io.StringIO()
    log = Log(out)
    log.info("the log's writer thread is running before the count")
    assert log.flush(5)
    fds, threads = len(os.listdir("/dev/fd")), set(threading.enumerate())
    exits: queue.SimpleQueue[int] = queue.SimpleQueue()
    generation = Generation(3, Path("/bin/sh"), "svc")
    generation.start(["-c", "echo started; exit 3"], dict(os.environ), tmp_path, [], tmp_path, log,
                     lambda number, message: None, lambda number, code: exits.put(code))
    assert exits.get(timeout=30) == 3
    generation.finished(3)  # what the loop does on its Exited event
    wait_for(lambda: set(threading.enumerate()) <= threads, 5, "the generation's threads to end")
    assert len(os.listdir("/dev/fd")) == fds, open_descriptors()
    assert generation.proc is not None and generation.proc.stdout is not None and generation.proc.stdout.closed
    assert log.flush(5) and "svc 3 │ started" in out.getvalue()
