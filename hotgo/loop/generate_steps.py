"""`[[generate]]` steps in the loop: a change to a step's trigger files runs the step, and what it
changed is built once, with the rest of that change, by the services it concerns.

While a step runs (or waits), the other changed files are held, so that a save that touches a
`.templ` file and a `.go` file builds once, after templ. The files a step writes come back from the
watcher a moment later: `Echoes` knows them by content and drops them, so they never start a round
of their own (nor run a step whose globs match its own output). A step that writes the same bytes
changes nothing and builds nothing. A failed step is shown like a failed build (also on the pages
of --browser) and builds nothing: every service keeps serving, and the held changes wait for the
next round.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set

from hotgo.browser.livereload import LiveReload
from hotgo.generate.content import ContentIndex
from hotgo.generate.echo import Echoes
from hotgo.generate.matching import triggering, triggers
from hotgo.generate.report import show_result
from hotgo.generate.runner import RunningStep, StepResult, run_step
from hotgo.generate.step_queue import StepQueue
from hotgo.generate.steps import GenerateStep
from hotgo.log import Log
from hotgo.watch.change_set import ChangeSet
from hotgo.watch.filters import PathFilter


@dataclass(frozen=True)
class StepDone:
    """Posted by a step's thread when it ended."""

    result: StepResult


class GenerateSteps:
    def __init__(self, steps: Sequence[GenerateStep], root: Path, scope: PathFilter, env: Dict[str, str], log: Log,
                 post: Callable[[StepDone], None], build: Callable[[ChangeSet], None],
                 browsers: Sequence[LiveReload] = ()) -> None:
        """`scope`: the files a build reads (the watcher's filter); `build`: route a change to the
        services it concerns."""
        self.steps = list(steps)
        self.root = root
        self.env = env
        self.log = log
        self.post = post
        self.build = build
        self.browsers = list(browsers)
        self.index = ContentIndex(scope)
        self.echoes = Echoes()
        self.queue = StepQueue()
        self.held: Set[Path] = set()  # changes to build once no step runs or waits
        self.first: Optional[ChangeSet] = None  # the round's first change: save → served counts from it
        self.failed = False
        self.running: Optional[RunningStep] = None
        self.stopping = False
        self.then: Optional[Callable[[], None]] = None  # at start: the first builds, once every step ran

    def at_start(self, then: Callable[[], None]) -> None:
        """Run every step once, then `then` (the first builds): generated code a repository does not
        keep (a .gitignore'd *_templ.go) exists before anything builds."""
        self.then = then
        for step in self.steps:
            self.queue.add(step)
        self._advance()

    def changed(self, change: ChangeSet) -> None:
        kept, _ = self.echoes.filter(change.paths)  # what a step wrote is already on its way to a build
        if not kept or self.stopping:
            return
        self.first = self.first or change
        for step, _ in triggers(self.steps, kept, self.root):
            self.queue.add(step)
        self.held.update(path for path in kept if not triggering(self.steps, path, self.root))
        self._advance()

    def done(self, event: StepDone) -> None:
        result = event.result
        self.running = None
        self.queue.done(result.step)
        show_result(self.log, result)
        if result.ok:
            self.held.update(result.changed)
            for browser in self.browsers:
                browser.build_ok()
        elif not result.cancelled:
            self.failed = True
            for browser in self.browsers:
                browser.build_failed(0, [f"{result.step.label} failed:", *result.errors])
        self._advance()

    def stop(self) -> None:
        self.stopping = True
        self.then = None  # stopped before the first builds: none starts
        self.queue.clear()
        if self.running is not None:
            self.running.cancel()

    @property
    def busy(self) -> bool:
        return self.queue.busy or self.running is not None

    def _advance(self) -> None:
        if self.stopping or self.running is not None:
            return
        step = self.queue.next()
        if step is not None:
            self.log.info(f"{step.label}: running {' '.join(step.run)}", event="generate", step=step.name)
            self.running = run_step(step, self.root, self.env, lambda result: self.post(StepDone(result)), self.log,
                                    index=self.index, echoes=self.echoes)
            return
        if self.queue.busy:
            return
        if self.then is not None:  # the first builds read the whole tree: nothing held is left to build
            then, self.then = self.then, None
            self.held.clear()
            self.first = None
            self.failed = False
            then()
            return
        first, self.first = self.first, None
        if self.failed:
            self.failed = False  # nothing built on a failed step; the held changes wait for the next round
            return
        if self.held and first is not None:
            paths: List[Path] = sorted(self.held)
            self.held.clear()
            self.build(dataclasses.replace(first, paths=tuple(paths)))
