"""A generator in a loop, end to end but for the supervisor: hotgo's real watcher, tests/fixtures/gen run by
run_step, real `go build`s counted. `Loop` plays the supervisor's part as the API asks of it (one thread,
an inbox; echoes filtered, triggers queued, builds held while a step runs or waits, the step's changed
files built once). 20 edits: one run each, one build per edit that changes the generated code, none for
an edit that leaves it byte-identical or a step that fails, and never a round the step's own writes start.
"""

from __future__ import annotations

import io
import queue
import subprocess
import threading
import time
from pathlib import Path
from typing import Iterator, List, Sequence, Set, Tuple, Union

import pytest
from gen_fixtures import build_gen, write
from harness import kill_processes_under, wait_for

from hotgo.generate.content import ContentIndex
from hotgo.generate.echo import Echoes
from hotgo.generate.matching import triggering, triggers
from hotgo.generate.runner import StepResult, run_step
from hotgo.generate.step_queue import StepQueue
from hotgo.generate.steps import GenerateStep
from hotgo.log import Log
from hotgo.watch.change_set import ChangeSet
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import Watcher

SETTLE = 0.05
Event = Union[ChangeSet, StepResult]

MAIN = 'package main\n\nimport "fmt"\n\nfunc main() { fmt.Println(Greeting) }\n'


class Loop:
    """The supervisor's part, on one thread: files from the watcher, results from the step's thread."""

    def __init__(self, root: Path, steps: Sequence[GenerateStep], go: str, binary: Path) -> None:
        self.root = root
        self.steps = steps
        self.go = go
        self.binary = binary
        scope = PathFilter(root, ["**/*.go", "**/*.consts", "go.mod"], [".hotgo/"])
        self.index = ContentIndex(scope)  # the watcher's own filter: the files a build reads
        self.echoes = Echoes()
        self.queue = StepQueue()
        self.inbox: queue.Queue[Event] = queue.Queue()
        self.held: Set[Path] = set()  # changes to build once no step runs or waits
        self.round_failed = False
        self.runs: List[StepResult] = []
        self.builds: List[Tuple[Path, ...]] = []
        self.echoes_dropped = 0
        self.watcher = Watcher([scope], SETTLE, 1.0, False, self.inbox.put, Log(io.StringIO()))
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self.index.snapshot()  # hashed once at start, as the watcher's snapshot is
        self.watcher.start()
        self._thread.start()

    def stop(self) -> None:
        self.watcher.stop()

    def _run(self) -> None:
        while True:
            event = self.inbox.get()
            try:
                if isinstance(event, ChangeSet):
                    self.files_changed(event.paths)
                else:
                    self.step_done(event)
            finally:
                self.inbox.task_done()  # counted from put to here: queued and being handled alike

    def files_changed(self, paths: Sequence[Path]) -> None:
        kept, dropped = self.echoes.filter(paths)  # what a step wrote is already on its way to a build
        self.echoes_dropped += len(dropped)
        for step, _ in triggers(self.steps, kept, self.root):
            self.queue.add(step)
        self.held.update(path for path in kept if not triggering(self.steps, path, self.root))
        self.advance()

    def step_done(self, result: StepResult) -> None:
        self.queue.done(result.step)
        self.runs.append(result)
        if result.ok:
            self.held.update(result.changed)
        else:
            self.round_failed = True  # shown like a failed build; what serves keeps serving
        self.advance()

    def advance(self) -> None:
        step = self.queue.next()
        if step is not None:
            run_step(step, self.root, {}, self.inbox.put, Log(io.StringIO()), index=self.index, echoes=self.echoes)
            return
        if self.queue.busy:
            return
        if self.round_failed:
            self.round_failed = False  # no build on a failed step; the held changes wait for the next round
            return
        if self.held:
            self.builds.append(tuple(sorted(self.held)))
            self.held.clear()
            subprocess.run([self.go, "build", "-o", str(self.binary), "."], cwd=self.root, check=True, timeout=120)

    def settled(self) -> bool:
        quiet = self.watcher.quiet_at()
        return (quiet is not None and quiet <= time.monotonic() and self.inbox.unfinished_tasks == 0
                and not self.queue.busy)

    def serves(self) -> str:
        return subprocess.run([str(self.binary)], capture_output=True, text=True, timeout=30).stdout.strip()


@pytest.fixture
def loop_for(go_toolchain: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Tuple[Path, List[Loop], Path, str]]:
    root = tmp_path / "site"
    write(root / "go.mod", "module example.com/site\n\ngo 1.22\n")
    write(root / "main.go", MAIN)
    loops: List[Loop] = []
    yield root, loops, build_gen(go_toolchain, tmp_path_factory), go_toolchain
    for loop in loops:
        loop.stop()
    kill_processes_under(tmp_path)


def consts(greeting: str, comments: int = 0) -> str:
    return "package main\n" + "".join(f"# note {n}\n" for n in range(comments)) + f"Greeting = {greeting}\n"


@pytest.mark.parametrize("watch", [("**/*.consts",), ("**/*.consts", "**/*_gen.go")],
                         ids=["inputs", "inputs-and-its-own-output"])
def test_twenty_edits_run_the_step_twenty_times_and_build_each_change_once(
        loop_for: Tuple[Path, List[Loop], Path, str], watch: Tuple[str, ...]) -> None:
    root, loops, gen, go = loop_for
    source = write(root / "page.consts", consts("start"))
    subprocess.run([str(gen)], cwd=root, check=True, timeout=60)  # the tree as it was left: generated
    loop = Loop(root, [GenerateStep(1, watch, (str(gen),))], go, root.parent / "bin" / "site")
    loops.append(loop)
    loop.start()
    expected_builds = 0
    greeting, comments = "start", 0
    for edit in range(20):
        if edit == 7:
            write(source, consts(greeting, comments) + "!broken\n")  # the step fails: nothing builds
        elif edit % 5 == 4:
            comments += 1  # gen writes the same bytes again: nothing builds
            write(source, consts(greeting, comments))
        else:
            greeting = f"hello {edit}"
            write(source, consts(greeting, comments))
            expected_builds += 1
        wait_for(lambda edit=edit: len(loop.runs) == edit + 1 and loop.settled(), 180,
                 f"edit {edit + 1}'s step and build, then quiet")
        assert len(loop.builds) == expected_builds, (edit, loop.builds)
    assert [run.ok for run in loop.runs] == [edit != 7 for edit in range(20)]
    assert all(build == (root / "page_gen.go",) for build in loop.builds)
    assert loop.echoes_dropped >= 1  # the watcher did see the step's writes, and they started nothing
    assert loop.serves() == greeting
    wait_for(loop.settled, 10, "quiet")
    assert (len(loop.runs), len(loop.builds)) == (20, expected_builds)  # and nothing since


def test_a_burst_of_twenty_saves_settles_on_the_last_one(loop_for: Tuple[Path, List[Loop], Path, str]) -> None:
    root, loops, gen, go = loop_for
    source = write(root / "page.consts", consts("start"))
    subprocess.run([str(gen)], cwd=root, check=True, timeout=60)
    loop = Loop(root, [GenerateStep(1, ("**/*.consts", "**/*_gen.go"), (str(gen),))], go, root.parent / "bin" / "site")
    loops.append(loop)
    loop.start()
    for edit in range(20):
        write(source, consts(f"burst {edit}"))
        time.sleep(0.01)  # pacing the saves, not waiting for a result
    wait_for(lambda: loop.runs and loop.builds and loop.settled(), 60, "the burst's steps and build, then quiet")
    assert 1 <= len(loop.runs) <= 20 and 1 <= len(loop.builds) <= len(loop.runs)
    assert 'const Greeting = "burst 19"' in (root / "page_gen.go").read_text()
    assert loop.serves() == "burst 19"
    runs, builds = len(loop.runs), len(loop.builds)
    wait_for(loop.settled, 10, "quiet")
    assert (len(loop.runs), len(loop.builds)) == (runs, builds)
