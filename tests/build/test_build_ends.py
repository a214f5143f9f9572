"""A build always ends with a result, whatever `go` does (issue 23): hotgo's loop waits for that
result before it exits, so a build that never reported one kept hotgo from ending on SIGTERM.

`go` here is a shell script standing in for it (POSIX): one that cannot be run with the flags it is
given, one that leaves a process holding its output pipe, one that runs until it is cancelled.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from pathlib import Path
from typing import List

import psutil
import pytest
from harness import wait_for

from hotgo.build.go_build import READ_AFTER_EXIT, Build, BuildResult
from hotgo.log import Log

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the stand-in for go is a shell script")


class Results:
    def __init__(self) -> None:
        self.got: List[BuildResult] = []
        self.done = threading.Event()

    def __call__(self, result: BuildResult) -> None:
        self.got.append(result)
        self.done.set()


def fake_go(tmp_path: Path, body: str) -> str:
    script = tmp_path / "go"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return str(script)


def build(tmp_path: Path, go: str, results: Results, flags: List[str]) -> Build:
    return Build(go, tmp_path, ".", tmp_path / "bin" / "svc-1", 1, flags, {}, Log(io.StringIO()), results)


def test_a_build_that_cannot_be_run_reports_a_failure(tmp_path: Path) -> None:
    """The finding: `[build] flags = ["-tags=a\\u0000b"]` made Popen raise ValueError on the build's
    thread; no result came, and SIGTERM never ended hotgo."""
    results = Results()
    build(tmp_path, fake_go(tmp_path, "exit 0"), results, ["-tags=a\0b"]).start()
    assert results.done.wait(10), "no result"
    [result] = results.got
    assert not result.ok and not result.cancelled
    assert any("could not run go build" in line and "null byte" in line for line in result.output), result.output


def test_a_process_left_holding_the_output_does_not_hold_the_result(tmp_path: Path) -> None:
    pid_file = tmp_path / "leftover.pid"
    # In a session of its own: out of reach of the kill of go's group, and its stdout is go's pipe.
    go = fake_go(tmp_path, f"setsid sleep 60 & echo $! > {pid_file}\necho 'main.go:1:1: broken'\nexit 1")
    results = Results()
    started = time.monotonic()
    build(tmp_path, go, results, []).start()
    try:
        assert results.done.wait(READ_AFTER_EXIT + 10), "no result"
        took = time.monotonic() - started
        [result] = results.got
        assert not result.ok and "main.go:1:1: broken" in result.output, result.output
        assert took < READ_AFTER_EXIT + 5, took
    finally:
        pid = wait_for(lambda: pid_file.read_text().strip() if pid_file.exists() else "", 5, "the leftover's pid")
        try:
            psutil.Process(int(pid)).kill()
        except psutil.Error:
            pass


def test_a_cancelled_build_ends_at_once_and_leaves_nothing(tmp_path: Path) -> None:
    pid_file = tmp_path / "child.pid"
    go = fake_go(tmp_path, f"sleep 60 & echo $! > {pid_file}\nwait")  # a wrapper with a child of its own
    results = Results()
    running = build(tmp_path, go, results, [])
    running.start()
    child = int(wait_for(lambda: pid_file.read_text().strip() if pid_file.exists() else "", 10, "the child"))
    try:
        running.cancel()
        assert results.done.wait(10), "no result"
        assert results.got[0].cancelled and not results.got[0].ok
        wait_for(lambda: not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE,
                 5, "the wrapper's child to be killed with it")
    finally:
        if psutil.pid_exists(child):
            os.kill(child, 9)
