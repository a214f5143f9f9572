"""The soak: deploy after deploy in artifact mode, with faults, measuring hotgo's own process after each.

Shared by `tests/e2e/test_soak.py` (a short run in CI) and `bench/soak.py` (1,000 reloads under wrk).

What a staging host does all day: a new binary is renamed over `bin/api` (rsync style: a hidden
temporary file in the same directory, then rename), hotgo (`run --binary bin/api`) polls it, stages it
as a new generation's file and hands off; the next deploy comes once this one is over. Two prebuilt
builds of samples/api (Go helper: READY=1, drains with STOPPING=1) alternate, so no `go build` runs
per reload. Faults, each a deploy that must leave the serving generation serving:

- `crash`: a binary that exits at start (a config file missing): `failed_start`;
- `hang`: one that never gets ready (waits for a database): killed at the ready timeout, `not_ready`;
- `noexec`: an upload that lost its x bit: refused before it starts, `deploy_failed`.

A reload is over ("settled") once its outcome event was written and hotgo's only child is the serving
process (everything older exited and was reaped). Then hotgo's RSS, open descriptors and threads are
read. Once a reference has been taken (`take_reference`: before the first reload, one generation
serving, as after every reload), each reload waits (bounded) until descriptors and threads are back
at the reference's values, and says whether they came back and how long that took.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import psutil
from harness import Hotgo, Record, copy_sample, free_port, set_version, wait_for

FAULTS = ("crash", "hang", "noexec")
OUTCOME = {"good": "done", "crash": "failed_start", "hang": "not_ready", "noexec": "deploy_failed"}
OUTCOMES = tuple(OUTCOME.values())  # a good deploy may fail too (a start slower than the ready timeout)
CRASH_SCRIPT = """#!/bin/sh
echo "api: open config/production.json: no such file or directory" >&2
exit 1
"""
HANG_SCRIPT = """#!/bin/sh
echo "api: waiting for the database at 10.0.0.7:5432"
exec sleep 600
"""


def build_binaries(root: Path) -> Tuple[Path, Path]:
    """Two builds of samples/api (versions s1 and s2) under `root`: what the deploys alternate."""
    project = copy_sample(root)
    built = []
    for version in ("s1", "s2"):
        set_version(project, version)
        output = root / f"api-{version}"
        subprocess.run(["go", "build", "-o", str(output), "./cmd/api"], cwd=project, check=True, timeout=300,
                       capture_output=True)
        built.append(output)
    return built[0], built[1]


@dataclass
class Sample:
    """hotgo's own process once a reload has settled."""

    reload: int
    kind: str  # good, or the fault
    outcome: str  # the event that ended it: done for a good deploy (OUTCOME[kind] is the one expected)
    seconds: float  # from the rename to settled
    rss: int  # bytes
    fds: int
    threads: int
    back: Optional[bool]  # descriptors and threads back at the reference (None: before it was taken)
    waited: float = 0.0  # from settled until they were back (or until the wait gave up)


class EventHotgo(Hotgo):
    """harness.Hotgo that counts events as their lines come (a thousand reloads: no re-parsing)."""

    def __init__(self, args: List[str], cwd: Path, env: Optional[Dict[str, str]] = None) -> None:
        self.counts: Counter[str] = Counter()
        self.last: Dict[str, Record] = {}
        self._events_lock = threading.Lock()
        super().__init__(args, cwd, env=env)

    def add_line(self, line: str) -> None:
        super().add_line(line)
        if not line.startswith("{"):
            return
        try:
            record = json.loads(line)
        except ValueError:
            return
        if isinstance(record, dict):
            with self._events_lock:
                self.counts[str(record.get("event"))] += 1
                self.last[str(record.get("event"))] = record

    def event_count(self, event: str) -> int:
        with self._events_lock:
            return self.counts[event]

    def latest(self, event: str) -> Record:
        with self._events_lock:
            return self.last[event]


class Soak:
    """hotgo in artifact mode over a staging directory under `root`; `reload(kind)` deploys once."""

    def __init__(self, root: Path, builds: Tuple[Path, Path], *, ready_timeout: str = "15s",
                 env: Optional[Dict[str, str]] = None, settle_timeout: float = 3.0) -> None:
        self.root = root
        self.builds = builds
        self.port = free_port()
        self.staging = root / "staging"
        self.bin = self.staging / "bin"
        self.bin.mkdir(parents=True)
        self.target = self.bin / "api"
        self.settle_timeout = settle_timeout
        self.reloads = 0
        self.deployed = 0  # good deploys, for alternating the builds
        self.reference: Optional[Tuple[int, int]] = None  # (fds, threads)
        self.samples: List[Sample] = []
        self._put(builds[0], 0o755)
        self.hotgo = EventHotgo(["run", "--binary", "bin/api", "--listen", f"127.0.0.1:{self.port}",
                                 "--ready-timeout", ready_timeout], self.staging, env=env)
        self.process = psutil.Process(self.hotgo.proc.pid)
        self._wait_outcome({}, 120)
        self.serving = int(self.hotgo.latest("done")["pid"])
        self._wait_alone()

    def close(self) -> None:
        """SIGINT (a drain, as a stop would be), then nothing left running."""
        try:
            self.hotgo.interrupt(timeout=30)
        finally:
            self.hotgo.close()

    def __enter__(self) -> Soak:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- one reload ------------------------------------------------------------------
    def reload(self, kind: str = "good") -> Sample:
        before = {event: self.hotgo.event_count(event) for event in OUTCOMES}
        started = time.monotonic()
        if kind == "good":
            self.deployed += 1
            self._put(self.builds[self.deployed % 2], 0o755)
        elif kind == "noexec":
            self._put(self.builds[self.deployed % 2], 0o644)
        else:
            self._put_text(CRASH_SCRIPT if kind == "crash" else HANG_SCRIPT)
        outcome = self._wait_outcome(before, 60)
        if outcome == "done":
            self.serving = int(self.hotgo.latest("done")["pid"])
        self._wait_alone()
        self.reloads += 1
        settled = time.monotonic()
        fds, threads, back = self._settled()
        now = time.monotonic()
        sample = Sample(self.reloads, kind, outcome, now - started, self.process.memory_info().rss, fds, threads,
                        back, now - settled)
        self.samples.append(sample)
        return sample

    def take_reference(self) -> Tuple[int, int]:
        """The descriptors and threads of a settled hotgo: what every later reload must come back to."""
        readings: List[Tuple[int, int]] = []

        def steady() -> bool:  # the same over 5 reads 50 ms apart (a thread may be ending)
            readings.append(self._counts())
            return len(readings) >= 5 and len(set(readings[-5:])) == 1

        wait_for(steady, 10, "hotgo's descriptors and threads to stay the same", step=0.05)
        self.reference = readings[-1]
        return self.reference

    # -- inside ----------------------------------------------------------------------
    def _put(self, source: Path, mode: int) -> None:
        temporary = self.bin / f".api.{self.reloads}"
        shutil.copyfile(source, temporary)
        os.chmod(temporary, mode)
        os.rename(temporary, self.target)

    def _put_text(self, text: str) -> None:
        temporary = self.bin / f".api.{self.reloads}"
        temporary.write_text(text)
        os.chmod(temporary, stat.S_IRWXU)
        os.rename(temporary, self.target)

    def _wait_outcome(self, before: Dict[str, int], timeout: float) -> str:
        """The first outcome event written since `before` (counts by event)."""
        def seen() -> str:
            if self.hotgo.proc.poll() is not None:
                raise AssertionError(f"hotgo exited ({self.hotgo.proc.returncode}):\n{self.hotgo.output[-4000:]}")
            return next((e for e in OUTCOMES if self.hotgo.event_count(e) > before.get(e, 0)), "")

        try:
            return wait_for(seen, timeout, "the outcome of the deploy", step=0.01)
        except AssertionError as err:
            raise AssertionError(f"{err}\n{self.hotgo.output[-4000:]}") from None

    def _wait_alone(self) -> None:
        """hotgo's one child is the serving process: every older one exited and was reaped."""
        def alone() -> bool:
            try:
                return [c.pid for c in self.process.children()] == [self.serving]
            except psutil.Error:
                return False

        wait_for(alone, 30, f"the serving process {self.serving} to be hotgo's only child", step=0.01)

    def _counts(self) -> Tuple[int, int]:
        return self.process.num_fds(), self.process.num_threads()  # type: ignore[attr-defined,unused-ignore]

    def _settled(self) -> Tuple[int, int, Optional[bool]]:
        """Descriptors and threads, once back at the reference (waited for, bounded)."""
        if self.reference is None:
            return (*self._counts(), None)
        deadline = time.monotonic() + self.settle_timeout
        while True:
            counts = self._counts()
            if counts == self.reference:
                return (*counts, True)
            if time.monotonic() > deadline:
                return (*counts, False)
            time.sleep(0.01)


def fault_of(reload: int, every: int) -> str:
    """Reload `reload` (from 1): a good deploy, or every `every`th one a fault, the kinds in turn."""
    if every <= 0 or reload % every:
        return "good"
    return FAULTS[(reload // every - 1) % len(FAULTS)]
