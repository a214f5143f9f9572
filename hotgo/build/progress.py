"""Progress of a long `go build` (a cold cache takes minutes), told as a person can read it.

`go build -v` names each package as it compiles it (cached ones are skipped) and
`go: downloading M V` each module it fetches. Once a build has run for
PROGRESS_AFTER, `go list -deps` counts the packages the build needs, once. On a
terminal the live status line shows the counts; elsewhere (a pipe, a log file,
JSON logs) a `build_progress` line comes every PROGRESS_EVERY.
"""

from __future__ import annotations

import re
import subprocess
import threading
import time
from typing import Dict, List, Optional

from hotgo import platform
from hotgo.log import Log

PROGRESS_AFTER = 2.0
PROGRESS_EVERY = 10.0
_PACKAGE_LINE = re.compile(r"^[A-Za-z0-9_.~+\-]+(/[A-Za-z0-9_.~+\-]+)*$")  # what -v prints
_DOWNLOAD_LINE = re.compile(r"^go: downloading (\S+) (\S+)$")


def is_package_line(line: str) -> bool:
    """A `go build -v` progress line (an import path alone), not a diagnostic."""
    return bool(_PACKAGE_LINE.match(line)) and not line.startswith("#")


class BuildProgress:
    def __init__(self, log: Log, generation: int, count_argv: List[str], cwd: str, env: Dict[str, str]) -> None:
        self.log = log
        self.generation = generation
        self.count_argv = count_argv  # `go list -deps PKG`: one line per package the build needs
        self.cwd = cwd
        self.env = env
        self.started = time.monotonic()
        self.compiled = 0
        self.downloads = 0
        self.total: Optional[int] = None
        self._done = threading.Event()
        self._counter: Optional[threading.Thread] = None
        self._lister: Optional[subprocess.Popen[bytes]] = None  # `go list -deps`, in a group of its own
        self._lister_lock = threading.Lock()

    def saw(self, line: str) -> bool:
        """Count a line of go's output; True if it is progress only (not worth showing on failure)."""
        if is_package_line(line):
            self.compiled += 1
            return True
        if _DOWNLOAD_LINE.match(line):
            self.downloads += 1
        return False

    def start(self) -> None:
        threading.Thread(target=self._run, name=f"hotgo-progress-{self.generation}", daemon=True).start()

    def finish(self) -> None:
        with self._lister_lock:
            self._done.set()
            lister = self._lister
        if lister is not None and lister.poll() is None:
            platform.kill_tree(lister)  # the count is moot now (a `go` wrapper may have children)

    def describe(self) -> str:
        elapsed = time.monotonic() - self.started
        parts = [f"{elapsed:.0f}s" if elapsed >= 10 else f"{elapsed:.1f}s"]
        if self.total:
            parts.append(f"{self.compiled} of {self.total} packages compiled (cached ones are skipped)")
        else:
            parts.append(f"{self.compiled} packages compiled")
        if self.downloads:
            parts.append(f"{self.downloads} module{'s' if self.downloads != 1 else ''} downloaded")
        return ", ".join(parts)

    def _run(self) -> None:
        if self._done.wait(1.0 if self.log.interactive else PROGRESS_AFTER):
            return
        last = time.monotonic() - PROGRESS_EVERY + 1.0  # the first line a second after the count starts
        while not self._done.wait(0.1):
            elapsed = time.monotonic() - self.started
            if elapsed >= PROGRESS_AFTER and self._counter is None:
                self._counter = threading.Thread(target=self._count, name="hotgo-go-list", daemon=True)
                self._counter.start()
            if self.log.interactive:
                self.log.status(f"hotgo │ building generation {self.generation}… {self.describe()}")
            elif time.monotonic() - last >= PROGRESS_EVERY:
                last = time.monotonic()
                self.log.info(f"building generation {self.generation}: {self.describe()}", event="build_progress",
                              generation=self.generation, compiled=self.compiled, total=self.total,
                              downloads=self.downloads, seconds=round(elapsed, 1))

    def _count(self) -> None:
        with self._lister_lock:  # finish() either sees the lister, or it is never started
            if self._done.is_set():
                return
            try:
                proc = platform.spawn_tool(self.count_argv, self.env, self.cwd)
            except (OSError, ValueError):
                return
            self._lister = proc
        try:
            out, _ = proc.communicate()
        finally:
            platform.release(proc)
        if proc.returncode == 0:  # go's messages share the pipe: only import paths count
            self.total = sum(1 for line in out.decode(errors="replace").splitlines() if is_package_line(line))
