"""`[[generate]]` in a real `hotgo run`: a code generator (tests/fixtures/gen, a Go program: NAME.consts
→ NAME_gen.go) runs on each edit of its input, what it wrote is built once and served; a failed step is
shown and the service keeps serving; 20 edits build 20 times, never more (no round started by the
generator's own output, none for the same bytes)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterator, Tuple

import pytest
from harness import Hotgo, free_port, get, kill_processes_under, wait_for

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "generate"))
from gen_fixtures import build_gen

# Serves the generated Greeting on the socket hotgo hands it (fd 3), or on $PORT.
MAIN = """package main

import (
\t"fmt"
\t"net"
\t"net/http"
\t"os"
\t"strconv"
)

func main() {
\tvar listener net.Listener
\tvar err error
\tif os.Getenv("LISTEN_PID") == strconv.Itoa(os.Getpid()) {
\t\tlistener, err = net.FileListener(os.NewFile(3, "shared"))
\t} else {
\t\tlistener, err = net.Listen("tcp", "127.0.0.1:"+os.Getenv("PORT"))
\t}
\tif err != nil {
\t\tpanic(err)
\t}
\thttp.Serve(listener, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
\t\tfmt.Fprintf(w, "version=%s\\n", Greeting)
\t}))
}
"""

EDITS = 20


@pytest.fixture
def site(tmp_path: Path, go_toolchain: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tuple[Path, int]]:
    root = tmp_path / "site"
    root.mkdir()
    (root / "go.mod").write_text("module example.com/site\n\ngo 1.22\n")
    (root / "main.go").write_text(MAIN)
    (root / "greeting.consts").write_text("package main\nGreeting = g0\n")  # no greeting_gen.go yet
    gen = build_gen(go_toolchain, tmp_path_factory)
    port = free_port()
    (root / "hotgo.toml").write_text(
        f'[run]\nlisten = ["127.0.0.1:{port}"]\n\n'
        f'[[generate]]\nwatch = ["**/*.consts"]\nrun = [{str(gen)!r}]\n'.replace("'", '"'))
    yield root, port
    kill_processes_under(tmp_path)


def served(port: int) -> str:
    body = get(port, timeout=1) or ""
    return body.strip().removeprefix("version=")


def test_each_edit_of_a_generators_input_runs_it_and_builds_once(site: Tuple[Path, int]) -> None:
    root, port = site
    consts = root / "greeting.consts"
    with Hotgo(["run"], cwd=root) as hotgo:
        # Nothing was generated before hotgo started: the step runs first, then the first build.
        wait_for(lambda: served(port) == "g0", 180, "g0 served")
        assert hotgo.count_events("build_failed") == 0, hotgo.transcript()
        for number in range(1, EDITS + 1):
            consts.write_text(f"package main\nGreeting = g{number}\n")
            wait_for(lambda n=number: served(port) == f"g{n}", 120, f"g{number} served")
            hotgo.wait_event("generate_done", occurrences=number + 1)
        # Same bytes again: the watcher sees no change, nothing runs, nothing builds.
        consts.write_text(f"package main\nGreeting = g{EDITS}\n")
        # A bad line: the step fails, shown like a failed build; the last good build keeps serving.
        consts.write_text("package main\nnot a const\n")
        failed = hotgo.wait_event("generate_failed")
        assert failed["code"] == 1, failed
        assert any("greeting.consts:2" in r["message"] for r in hotgo.events("generate_output")), hotgo.transcript()
        assert served(port) == f"g{EDITS}"
        consts.write_text("package main\nGreeting = fixed\n")
        wait_for(lambda: served(port) == "fixed", 120, "the fixed greeting served")
        runs = hotgo.count_events("generate_done") + hotgo.count_events("generate_failed")
        builds = hotgo.count_events("build")
        assert runs == 1 + EDITS + 2, hotgo.transcript()
        # One build at start (after the step), then exactly one per good edit: the generator's own
        # writes start no round, the same bytes none, the failed step none.
        assert builds == 1 + EDITS + 1, hotgo.transcript()
        assert os.path.exists(root / "greeting_gen.go")
