"""Fixtures for every test, and the `go` marker: which tests need the Go toolchain.

A test needs Go when it asks for the `go_toolchain` fixture, directly or through another
fixture (`api_project`, and the fixtures that copy a Go service of tests/); a test that
runs Go another way says so with `@pytest.mark.go`. Without `go` on PATH those tests are
skipped, saying why, and `pytest -m "not go"` runs the rest alone.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator, List

import pytest
from harness import copy_sample, kill_processes_under

# Keep builds within this machine's 2 cores, and the module cache shared between tests.
os.environ.setdefault("GOFLAGS", "-p=2")

GO_MISSING = "needs the Go toolchain on PATH (not found)"


@pytest.fixture(scope="session")
def go_toolchain() -> str:
    """The `go` on PATH. Asking for it marks a test `go` (see pytest_collection_modifyitems)."""
    go = shutil.which("go")
    if go is None:
        pytest.skip(GO_MISSING)
    return go


@pytest.fixture
def api_project(tmp_path: Path, go_toolchain: str) -> Iterator[Path]:
    """A copy of samples/api, which hotgo builds with go."""
    project = copy_sample(tmp_path, "api")
    yield project
    kill_processes_under(tmp_path)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    go_found = shutil.which("go") is not None
    for item in items:
        if "go_toolchain" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.go)
        if not go_found and item.get_closest_marker("go") is not None:
            item.add_marker(pytest.mark.skip(reason=GO_MISSING))
