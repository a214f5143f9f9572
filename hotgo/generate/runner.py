"""One run of a step's command, on a thread of its own: hotgo's loop never waits for a generator.

The command runs without a shell, in its own process group (the platform seam, as `go build` does), so a
cancel or a timeout kills everything it started. Before it starts, the ContentIndex is snapshot; once it
has exited, the difference is what it wrote: `changed` (other bytes, new, deleted) goes to a build,
`rewritten_identical` costs nothing. Both are recorded as echoes before `on_done` is called, so the
watcher's report of them, whenever it comes, is recognised.
"""

from __future__ import annotations

import collections
import os
import re
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Deque, Dict, List, Mapping, Optional, Tuple

from hotgo import platform
from hotgo.generate.content import ContentIndex
from hotgo.generate.echo import Echoes
from hotgo.generate.steps import GenerateStep
from hotgo.generate.tools import ProgramMissing, child_env, find_program
from hotgo.log import Log

OUTPUT_LINES = 40  # the last lines of a step's output that its result keeps
READ_AFTER_EXIT = 2.0  # once it has exited, how long its output may take to end
# `file:line: message`, `file:line:col: message` (go, sqlc, buf, templ's `(✗) ... file.templ:6:1: ...`)
_DIAGNOSTIC = re.compile(r"(?:^|\s)[^\s:]+\.[A-Za-z0-9_]+:\d+(?::\d+)?:\s")


@dataclass(frozen=True)
class StepResult:
    step: GenerateStep
    ok: bool
    code: Optional[int]  # its exit code; None when it never started, or was killed (cancel, timeout)
    seconds: float
    output_lines: Tuple[str, ...]  # the last OUTPUT_LINES lines of stdout and stderr (one pipe: in order)
    changed: Tuple[Path, ...]  # files it created, deleted or gave other bytes: what a build must see
    rewritten_identical: Tuple[Path, ...]  # files it wrote again with the same bytes: nothing to build
    cancelled: bool = False
    timed_out: bool = False

    @property
    def errors(self) -> Tuple[str, ...]:
        """The lines that point at a file (`file:line: message`), else its last lines: what an overlay shows."""
        pointed = tuple(line for line in self.output_lines if _DIAGNOSTIC.search(line))
        return pointed or tuple(line for line in self.output_lines if line.strip())[-10:]


class RunningStep:
    """A step under way; `on_done` is called exactly once, from the step's thread."""

    def __init__(self, step: GenerateStep) -> None:
        self.step = step
        self.started = time.monotonic()
        self.finished = threading.Event()
        self._cancelled = threading.Event()
        self._proc_lock = threading.Lock()
        self._proc: Optional[subprocess.Popen[bytes]] = None

    def cancel(self) -> None:
        """Kill the command and all it started; the result comes as usual, `cancelled` set (hotgo stops)."""
        self._cancelled.set()
        with self._proc_lock:
            proc = self._proc
        if proc is not None:
            platform.kill_tree(proc)

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """True once `on_done` has returned (for tests and for stopping)."""
        return self.finished.wait(timeout)


def run_step(step: GenerateStep, root: Path, env: Mapping[str, str], on_done: Callable[[StepResult], None],
             log: Log, *, index: ContentIndex, echoes: Optional[Echoes] = None) -> RunningStep:
    """Start `step` in `root / step.dir` on a thread; `env` is added to hotgo's environment. `index` is the
    ContentIndex of the files a build reads (kept between runs: only changed stats are hashed again);
    `echoes`, if given, learns what the step wrote before `on_done` sees it."""
    running = RunningStep(step)
    thread = threading.Thread(target=_run, args=(running, root, {**os.environ, **env}, on_done, log, index, echoes),
                              name=f"hotgo-generate-{step.index}", daemon=True)
    thread.start()
    return running


def _run(running: RunningStep, root: Path, env: Dict[str, str], on_done: Callable[[StepResult], None],
         log: Log, index: ContentIndex, echoes: Optional[Echoes]) -> None:
    """Whatever happens, ends with `on_done`: the caller waits for a result before the next step."""
    step = running.step
    output: Deque[str] = collections.deque(maxlen=OUTPUT_LINES)
    code: Optional[int] = None
    timed_out = False
    changed: Tuple[Path, ...] = ()
    rewritten: Tuple[Path, ...] = ()
    try:
        cwd = root / step.dir if step.dir else root
        env = child_env(env)  # PATH + where `go install` puts tools, for it and the plugins it starts
        if not cwd.is_dir():
            raise ProgramMissing(f"{step.label}: dir {step.dir!r} does not exist under {root}; create it or fix `dir`")
        program = find_program(step.run[0], cwd, env)
        before = index.snapshot()
        code, timed_out = _execute(running, [program, *step.run[1:]], env, cwd, output, log)
        written = index.diff(before)
        changed, rewritten = written.changed, written.rewritten
        if echoes is not None:
            echoes.expect({path: index.digest(path) for path in (*changed, *rewritten)})
    except ProgramMissing as err:
        output.append(str(err))
    except (OSError, ValueError) as err:  # not runnable (permissions, a NUL byte in the environment)
        output.append(f"hotgo: could not run {step.label}: {err}")
    except Exception as err:  # a bug: said as the step's failure rather than a step that never ends
        output.append(f"hotgo: {step.label} failed inside hotgo: {err!r}")
    finally:
        if timed_out:
            output.append(f"hotgo: {step.label} was killed after {step.timeout:g}s (its timeout)")
        seconds = time.monotonic() - running.started
        result = StepResult(step, code == 0 and not running.cancelled, code, seconds, tuple(output), changed,
                            rewritten, running.cancelled, timed_out)
        try:
            on_done(result)
        finally:
            running.finished.set()


def _execute(running: RunningStep, argv: List[str], env: Dict[str, str], cwd: Path, output: Deque[str],
             log: Log) -> Tuple[Optional[int], bool]:
    """Run the command to its end (or its timeout, or a cancel): (exit code or None if killed, timed out)."""
    with running._proc_lock:
        if running.cancelled:
            return None, False
        proc = platform.spawn_tool(argv, env, str(cwd))
        running._proc = proc
    reader = threading.Thread(target=_read, args=(proc, output), name=f"hotgo-generate-out-{running.step.index}",
                              daemon=True)
    reader.start()
    timed_out = False
    try:
        proc.wait(timeout=running.step.timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        platform.kill_tree(proc)
        proc.wait()
    finally:
        with running._proc_lock:
            running._proc = None
    # The pipe ends when all that holds it has exited; something the step left running is not waited for.
    reader.join(timeout=READ_AFTER_EXIT)
    if reader.is_alive():
        log.warn(f"{running.step.label}: its output did not end {READ_AFTER_EXIT:g}s after it exited: "
                 "a process it started still holds it")
    platform.release(proc)
    killed = timed_out or running.cancelled
    return (None if killed else proc.returncode), timed_out


def _read(proc: subprocess.Popen[bytes], output: Deque[str]) -> None:
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            output.append(raw.decode(errors="replace").rstrip())
