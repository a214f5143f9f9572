"""Every build writes one file, kept between runs, and each generation runs a link of it: go skips
the link when that file is already what the sources make, and what a generation runs never changes."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from harness import Hotgo, field_of, free_port, get, set_version, wait_for

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot replace a running binary's file")


def serve_once(project: Path, port: int) -> Path:
    """Run hotgo until generation 1 serves, stop it; the binary generation 1 ran."""
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], project) as hotgo:
        hotgo.wait_serving()
        binary = Path(hotgo.events("start", generation=1)[0]["binary"])
    return binary


@pytest.mark.go
def test_hotgo_restarted_on_an_unchanged_tree_does_not_link_again(api_project: Path) -> None:
    port = free_port()
    first = serve_once(api_project, port)
    output = first.parent / "api"
    linked = os.stat(output)
    assert os.stat(first).st_ino == linked.st_ino, "generation 1 runs a link of the build's output"

    second = serve_once(api_project, port)
    assert os.stat(second).st_ino == linked.st_ino, "go replaced an output that was up to date: it linked again"


@pytest.mark.go
def test_a_new_build_leaves_the_running_generations_file_alone(api_project: Path) -> None:
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], api_project) as hotgo:
        hotgo.wait_serving()
        first = Path(hotgo.events("start", generation=1)[0]["binary"])
        before = first.read_bytes()
        set_version(api_project, "v2")
        hotgo.wait_serving(2)
        wait_for(lambda: field_of(get(port), "version") == "v2", 10, "v2 answering")
        second = Path(hotgo.events("start", generation=2)[0]["binary"])
        assert os.stat(second).st_ino == os.stat(first.parent / "api").st_ino
        assert os.stat(first).st_ino != os.stat(second).st_ino
        assert first.read_bytes() == before, "the build of generation 2 changed the file generation 1 ran"
