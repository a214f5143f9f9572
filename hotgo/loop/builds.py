"""From a change (or `hotgo reload`) to a new binary ready to start: build it, or stage the artifact.

One build at a time: a newer change cancels the build under way and drops a build still held
by the save gate. A failure is shown (and told to the browser's pages); the serving generation
stays. A success goes to `built(number, binary, fresh)`: the handoff (`fresh`: a new build,
not a deployed artifact).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional

from hotgo.browser.livereload import LiveReload
from hotgo.build.go_build import Build, BuildResult, show_failure
from hotgo.build.head_start import HeadStart
from hotgo.log import Log
from hotgo.loop.events import BuildDone, Event
from hotgo.loop.reload_report import ReloadReports
from hotgo.loop.save_gate import SaveGate
from hotgo.loop.service import Service
from hotgo.watch.artifact import stage
from hotgo.watch.change_set import ChangeSet


class Builds:
    def __init__(self, service: Service, flags: List[str], log: Log, gate: SaveGate, reports: ReloadReports,
                 browser: Optional[LiveReload], *, new_number: Callable[[], int],
                 still_serving: Callable[[], str], built: Callable[[int, Path, bool], None],
                 post: Callable[[Event], None], clock: Callable[[], float],
                 new_build: Callable[..., Build], head_start: Optional[HeadStart] = None) -> None:
        self._service = service
        self._flags = flags
        self._log = log
        self._gate = gate
        self._reports = reports
        self._browser = browser
        self._new_number = new_number
        self._still_serving = still_serving
        self._built = built
        self._post = post
        self._clock = clock
        self._new_build = new_build
        self._head_start = head_start  # generation 1's build, already running (hotgo/build/head_start.py)
        self.running: Optional[Build] = None
        self.last: Dict[str, str] = {"result": "none"}  # `hotgo status`: last_build
        self._stopped = False

    def start(self, change: Optional[ChangeSet]) -> None:
        artifact = self._service.artifact
        if artifact is not None:
            self.deploy(artifact)
            return
        self.cancel()
        dropped = self._gate.drop()  # built from content that has changed again since: never shown
        if dropped is not None:
            self._log.info(f"newer change: dropping the build of generation {dropped.generation}",
                           event="build_cancelled", generation=dropped.generation, held=True)
            self._reports.drop(dropped.generation)
        number = self._new_number()
        package = self._service.package
        head_start, self._head_start = self._head_start, None
        if head_start is not None and head_start.build.generation == number:
            self.running = head_start.adopt(lambda result: self._post(BuildDone(result)))
            early = self._clock() - self.running.started
            self._log.info(f"building generation {number} ({package.package}) since {early * 1000:.0f}ms, "
                           "while hotgo started…", event="build", generation=number, early=round(early, 4))
        else:
            self.running = self._new_build(
                self._service.go, package.root, package.package, self._service.binary(number), number,
                self._flags, self._service.settings.build_env, self._log,
                lambda result: self._post(BuildDone(result)), output=self._service.files.output(),
            )
            self.running.start()
            self._log.info(f"building generation {number} ({package.package})…", event="build", generation=number)
        self._reports.begin(number, change, self.running.started)

    def cancel(self) -> None:
        if self.running is not None:
            self._log.info(f"newer change: cancelling the build of generation {self.running.generation}",
                           event="build_cancelled", generation=self.running.generation, held=False)
            self.running.cancel()
            self._reports.drop(self.running.generation)
            self.running = None

    def stop(self) -> None:
        """hotgo stops: nothing under way or held is shown or started any more. A build under way
        stays `running` until its process has ended (the loop waits for it)."""
        self._stopped = True
        if self.running is not None:
            self.running.cancel()
        self._gate.drop()

    def done(self, result: BuildResult) -> None:
        if self.running is None or result.generation != self.running.generation:
            return  # a stale, cancelled build
        self.running = None
        if result.cancelled or self._stopped:
            return
        ended = self._clock()
        self._reports.built(result.generation, result.seconds, ended)
        self._gate.hold(result, ended, self._release)

    def _release(self, result: BuildResult) -> None:
        """The build's save is over: show a failure, or hand the new binary over."""
        if not result.ok:
            self._reports.drop(result.generation)
            self.last = {"result": "failed", "error": (result.errors or result.output or ["?"])[0]}
            show_failure(self._log, result, self._service.package.root, self._still_serving())
            if self._browser is not None:
                self._browser.build_failed(result.generation, result.errors or result.output)
            return
        self.last = {"result": "ok"}
        if self._browser is not None:
            self._browser.build_ok()
        self._log.info(f"built generation {result.generation} in {result.seconds:.2f}s", event="built",
                       generation=result.generation, seconds=round(result.seconds, 3))
        self._built(result.generation, result.binary, True)

    def deploy(self, source: Path) -> None:
        """Artifact mode: stage the prebuilt binary as a new generation's file and hand it over."""
        number = self._new_number()
        target = self._service.binary(number)
        problem = stage(source, target)
        if problem:
            self.last = {"result": "failed", "error": problem}
            self._log.error(f"cannot deploy {problem}; {self._still_serving()}", event="deploy_failed",
                            generation=number)
            return
        self.last = {"result": "ok"}
        self._log.info(f"deploying {source} as generation {number}", event="build", generation=number)
        self._built(number, target, False)
