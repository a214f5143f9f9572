from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest
from harness import copy_sample, kill_processes_under

# Keep builds within this machine's 2 cores, and the module cache shared between tests.
os.environ.setdefault("GOFLAGS", "-p=2")


@pytest.fixture
def api_project(tmp_path: Path) -> Iterator[Path]:
    if shutil.which("go") is None:
        pytest.fail("the Go toolchain is required for these tests")
    project = copy_sample(tmp_path, "api")
    yield project
    kill_processes_under(tmp_path)
