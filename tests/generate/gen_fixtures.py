"""What the generate tests share: tests/fixtures/gen built once with `go build`, a collector of results,
files written and aged. (Not a conftest.py: mypy checks tests/ as one set of modules, one conftest.)"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Dict, List

import pytest

from hotgo import platform
from hotgo.generate.runner import StepResult

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "gen"
_built: Dict[str, Path] = {}


def build_gen(go: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/fixtures/gen built (once a session): NAME.consts -> NAME_gen.go, a const per line, rewritten
    every run; `file:line: message` and exit 1 on a bad line."""
    if go not in _built:
        program = tmp_path_factory.mktemp("gen") / f"gen{platform.EXE_SUFFIX}"
        subprocess.run([go, "build", "-o", str(program), "."], cwd=FIXTURE, check=True, timeout=180)
        _built[go] = program
    return _built[go]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def age(path: Path, seconds: float = 60) -> None:
    """As if written a while ago: its stat is then trusted by a ContentIndex (not 'racy'), and a later
    write changes its mtime whatever the clock's granularity."""
    old = time.time() - seconds
    os.utime(path, (old, old))


class Results:
    """An `on_done` for run_step: keeps the results in order (called from the step's thread)."""

    def __init__(self) -> None:
        self.got: List[StepResult] = []
        self._lock = threading.Lock()

    def __call__(self, result: StepResult) -> None:
        with self._lock:
            self.got.append(result)

    def count(self) -> int:
        with self._lock:
            return len(self.got)

    def last(self) -> StepResult:
        with self._lock:
            return self.got[-1]
