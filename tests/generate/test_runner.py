"""run_step with real processes: tests/fixtures/gen writes Go from .consts files; a Python sleeper stands for a
generator that hangs. What changed, what was rewritten with the same bytes, errors, timeout, cancel."""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest
from gen_fixtures import Results, age, build_gen, write
from harness import gone, kill_processes_under, kill_tree, wait_for

from hotgo.generate.content import ContentIndex
from hotgo.generate.echo import Echoes
from hotgo.generate.runner import RunningStep, StepResult, run_step
from hotgo.generate.step_queue import StepQueue
from hotgo.generate.steps import GenerateStep
from hotgo.log import Log

PAGE = "package web\nGreeting = hello\n"


@pytest.fixture(scope="session")
def gen_program(go_toolchain: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_gen(go_toolchain, tmp_path_factory)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    """An empty module root; what a test started from under it is killed at the end, also on failure."""
    root = tmp_path / "project"
    root.mkdir()
    yield root
    kill_processes_under(tmp_path)


def run(step: GenerateStep, root: Path, index: ContentIndex, echoes: Optional[Echoes] = None,
        log: Optional[Log] = None) -> StepResult:
    results = Results()
    running = run_step(step, root, {}, results, log or Log(io.StringIO()), index=index, echoes=echoes)
    wait_for(lambda: running.wait(0.05), 60, f"{step.label} to end")
    assert results.count() == 1
    return results.last()


@pytest.fixture
def gen_step(gen_program: Path) -> GenerateStep:
    return GenerateStep(1, ("**/*.consts",), (str(gen_program),))


def test_a_step_reports_what_it_changed_and_a_same_bytes_rewrite_as_none(project: Path, gen_step: GenerateStep
                                                                          ) -> None:
    write(project / "web" / "page.consts", PAGE)
    write(project / "main.go", "package main\n")
    index = ContentIndex.for_root(project)
    echoes = Echoes()
    output = project / "web" / "page_gen.go"

    first = run(gen_step, project, index, echoes)
    assert first.ok and first.code == 0, first.output_lines
    assert first.changed == (output,) and first.rewritten_identical == ()
    assert 'const Greeting = "hello"' in output.read_text()
    assert first.output_lines == ("gen: 1 file(s) generated",)
    assert echoes.filter([output, project / "main.go"]) == ((project / "main.go",), (output,))

    age(output)
    again = run(gen_step, project, index)  # the same input: gen writes the same bytes again
    assert again.ok and again.changed == () and again.rewritten_identical == (output,)
    assert time.time() - output.stat().st_mtime < 30, "gen rewrites its output every run"

    write(project / "web" / "page.consts", PAGE + "Farewell = bye\n")
    third = run(gen_step, project, index)
    assert third.ok and third.changed == (output,)


def test_a_failing_step_is_reported_with_its_error_line(project: Path, gen_step: GenerateStep) -> None:
    write(project / "web" / "page.consts", PAGE)
    index = ContentIndex.for_root(project)
    assert run(gen_step, project, index).ok
    write(project / "web" / "page.consts", PAGE + "!broken\n")
    log_text = io.StringIO()
    result = run(gen_step, project, index, log=Log(log_text))
    assert not result.ok and result.code == 1
    assert result.output_lines == ("web/page.consts:3: expected `Name = value`, got \"!broken\"",)
    assert result.errors == result.output_lines
    assert result.changed == ()  # gen writes nothing for a bad file: the last good output stays


def test_a_missing_program_fails_the_step_with_the_fix(project: Path) -> None:
    step = GenerateStep(1, ("*.templ",), ("hotgo-test-no-such-generator", "generate"))
    result = run(step, project, ContentIndex.for_root(project))
    assert not result.ok and result.code is None
    assert result.output_lines[0].startswith("`hotgo-test-no-such-generator` not found on PATH")
    missing_dir = GenerateStep(1, ("*.templ",), (sys.executable,), dir="web")
    assert "dir 'web' does not exist under" in run(missing_dir, project, ContentIndex.for_root(project)).output_lines[0]


# -- a generator that hangs: timeout and cancel end its whole tree ------------------------

SLEEPER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
with open("pids.tmp", "w") as f:
    f.write(f"{os.getpid()} {child.pid}")
os.replace("pids.tmp", "pids")
print("sleeping", flush=True)
time.sleep(120)
"""


@pytest.fixture
def sleeper(project: Path) -> Iterator[GenerateStep]:
    """A step that starts a child and sleeps; both pids in `pids`. Killed at the end, whatever happened."""
    yield GenerateStep(1, ("*.slow",), (sys.executable, "-c", SLEEPER), timeout=60)
    for pid in sleeper_pids(project) or []:
        kill_tree(pid)


def sleeper_pids(project: Path) -> Optional[List[int]]:
    try:
        return [int(word) for word in (project / "pids").read_text().split()]
    except FileNotFoundError:
        return None


def test_a_step_past_its_timeout_is_killed_with_what_it_started(project: Path, sleeper: GenerateStep) -> None:
    step = GenerateStep(1, sleeper.watch, sleeper.run, timeout=1.0)
    result = run(step, project, ContentIndex.for_root(project))
    assert result.timed_out and not result.ok and result.code is None
    assert result.output_lines[-1] == f"hotgo: {step.label} was killed after 1s (its timeout)"
    assert "sleeping" in result.output_lines
    for pid in sleeper_pids(project) or []:
        wait_for(lambda pid=pid: gone(pid), 10, f"process {pid} of the step to be gone")


def test_cancel_ends_the_step_and_its_children(project: Path, sleeper: GenerateStep) -> None:
    results = Results()
    running: RunningStep = run_step(sleeper, project, {}, results, Log(io.StringIO()),
                                    index=ContentIndex.for_root(project))
    pids = wait_for(lambda: sleeper_pids(project), 30, "the sleeper to start") or []
    running.cancel()
    wait_for(lambda: running.wait(0.05), 30, "the cancelled step's result")
    result = results.last()
    assert result.cancelled and not result.ok and result.code is None
    for pid in pids:
        wait_for(lambda pid=pid: gone(pid), 10, f"process {pid} of the step to be gone")


# -- one at a time: asked again while it runs, it runs once more after ---------------------

def test_the_queue_runs_a_step_once_more_however_often_it_is_asked_during_a_run() -> None:
    templ = GenerateStep(1, ("*.templ",), ("templ", "generate"))
    sqlc = GenerateStep(2, ("*.sql",), ("sqlc", "generate"))
    queue = StepQueue()
    assert queue.add(templ) and queue.next() == templ and queue.busy
    assert [queue.add(templ) for _ in range(5)] == [True, False, False, False, False]
    assert queue.add(sqlc)
    assert queue.next() is None  # one at a time
    queue.done(templ)
    assert queue.next() == templ and queue.pending == [sqlc]
    queue.done(templ)
    assert queue.next() == sqlc
    queue.done(sqlc)
    assert queue.next() is None and not queue.busy


def test_saves_during_a_run_coalesce_into_one_more_run(project: Path, gen_program: Path) -> None:
    """The loop's part, played here: results posted back, the queue asked for the next step."""
    # A generator slow enough for saves to land while it runs: gen after a pause.
    slow = (sys.executable, "-c", f"import subprocess, sys, time; time.sleep(0.5); "
                                  f"sys.exit(subprocess.call([{str(gen_program)!r}]))")
    step = GenerateStep(1, ("**/*.consts",), slow)
    source = write(project / "page.consts", PAGE)
    index = ContentIndex.for_root(project)
    queue = StepQueue()
    results = Results()
    queue.add(step)
    started = queue.next()
    assert started is not None
    run_step(started, project, {}, results, Log(io.StringIO()), index=index)
    for number in range(5):  # five saves while the first run sleeps
        write(source, PAGE + f"Count = {number}\n")
        queue.add(step)
    wait_for(lambda: results.count() == 1, 30, "the first run")
    queue.done(step)
    rerun = queue.next()
    assert rerun == step and queue.next() is None
    run_step(rerun, project, {}, results, Log(io.StringIO()), index=index)
    wait_for(lambda: results.count() == 2, 30, "the second run")
    queue.done(step)
    assert not queue.busy and results.count() == 2
    assert 'const Count = "4"' in (project / "page_gen.go").read_text()  # the second run saw the last save
