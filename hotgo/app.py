"""`hotgo run`: settings in, the project found, its first build started; then hotgo/serve.py wires
the rest and runs the loop, and everything is torn down in reverse.

Data flows one way: settings → the project (package, module root, .hotgo/ locked) → the first
build → hotgo/serve.py. Every resource is entered on one ExitStack, so a failure at any step
releases exactly what was set up before it. This module imports only what these steps need:
the rest of hotgo is imported while go builds.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import List, Optional, Tuple

from hotgo import platform, stop_signals
from hotgo.build.go_build import Build, BuildFiles, go_flags
from hotgo.build.go_module import (
    GoPackage,
    find_go,
    locate_package,
    resolve_package,
)
from hotgo.build.head_start import HeadStart
from hotgo.control.channel import RunDir
from hotgo.errors import RuntimeFailure, UsageError, shown_name
from hotgo.generate.steps import GenerateStep
from hotgo.log import Log, colour_wanted
from hotgo.platform.reaper import OrphanReaper
from hotgo.run_plan import Planned, plan_run, project_root, settings_file
from hotgo.settings import preflight
from hotgo.settings.schema import Settings


def current_directory() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists (deleted or moved away): "
                         "cd into the project again and rerun") from None


# -- the project -----------------------------------------------------------------------
def _artifact(settings: Settings, cwd: Path) -> Optional[Tuple[GoPackage, Path]]:
    """Artifact mode (--binary): the prebuilt binary deployed instead of a build."""
    if not settings.run_binary:
        return None
    binary = (cwd / settings.run_binary).absolute()
    name = binary.name[: -len(".exe")] if binary.name.endswith(".exe") else binary.name
    return GoPackage(root=project_root(cwd), package=settings.run_binary, name=name), binary


def make_log(namespace: argparse.Namespace) -> Log:
    json_format = namespace.log_format == "json"
    if namespace.log_file:
        path = Path(namespace.log_file).absolute()
        try:
            return Log(json_format=json_format, path=path)
        except OSError as err:
            reason = "is a directory" if path.is_dir() else (err.strerror or str(err)).lower()
            raise UsageError(f"--log-file {shown_name(str(path))}: {reason}; name a file hotgo can append to") from None
    if sys.stdout is None:  # started with stdout closed (>&-)
        raise UsageError("stdout is closed: redirect it (>/dev/null) or write the log with --log-file FILE")
    return Log(sys.stdout, colour_wanted(sys.stdout, namespace.no_color), json_format=json_format)


def _state_dir(root: Path) -> Path:
    state_dir = root / ".hotgo"
    try:
        state_dir.mkdir(exist_ok=True)
    except OSError as err:
        raise RuntimeFailure(f"cannot create {state_dir}: {err.strerror}") from None
    return state_dir


# -- the run ------------------------------------------------------------------------------
def run(namespace: argparse.Namespace, app_args: List[str]) -> int:
    """A stop request (SIGINT, SIGTERM) before the loop runs cuts the slow steps short (the go list,
    the tree walk: `stop_signals.interruptible`); after any other step, the check before the loop
    ends the run. Either way what was set up is released and the exit code is 0."""
    stop_signals.install()  # hotgo/__main__.py did already; again for a run started in-process
    platform.limit_malloc_arenas(1)  # before the first thread: RSS stays flat over a day of reloads
    cwd = current_directory()
    plan = plan_run(namespace, app_args, cwd)
    planned = plan.services
    log = make_log(namespace)
    stack = ExitStack()
    try:
        stack.callback(log.flush, timeout=2)  # last out: the writer thread dies with the process
        # Before the first child (go list, whose `go` may be a wrapper script with children of its
        # own): its orphans are hotgo's to reap (PID 1, subreaper), also when a stop kills it.
        reaper = OrphanReaper()
        reaper.start()
        stack.callback(_kill_left_behind, reaper, log)
        if len(planned) == 1:
            return _run_one(planned[0], plan.generate, namespace, cwd, log, stack)
        return _run_several(planned, plan.generate, namespace, cwd, log, stack)
    except stop_signals.Stopped as stop:
        log.info(f"{stop.name} before the first build: exiting", event="stopping", reason=stop.name,
                 generations=[])
        return 0
    finally:
        stack.close()


def _run_one(planned: Planned, steps: List[GenerateStep], namespace: argparse.Namespace, cwd: Path, log: Log,
             stack: ExitStack) -> int:
    settings = planned.settings
    deployed = _artifact(settings, cwd)
    go = find_go() if deployed is None else ""
    # A directory package is known from the file system alone: its first build starts while
    # `go list` checks it. A pattern or an import path waits for go list's answer.
    guess = locate_package(cwd, settings.build_package) if deployed is None else None
    if deployed is not None:
        package, artifact = deployed
    else:
        package = guess or resolve_package(go, cwd, settings.build_package, settings.build_env,
                                           settings.build_flags)
        artifact = None
    _preflight(planned, package.root, cwd)
    state_dir, run_dir = _lock_state(package.root, stack)
    head_start = None
    if artifact is None and not steps:  # with [[generate]], the steps run first (hotgo/loop/generate_steps.py)
        head_start = _first_build(settings, package, go, state_dir, log)
        stack.callback(head_start.abandon)
    if guess is not None:  # a typo, or not `package main`: hotgo ends here, the build cancelled
        package = resolve_package(go, cwd, settings.build_package, settings.build_env,
                                  settings.build_flags)
        if package != guess and head_start is not None:
            head_start.abandon()  # go list knows better: the loop builds generation 1 itself
            head_start = None
    # What matters once a binary exists: imported and set up while go builds (the import alone
    # takes 100 to 200 ms of a cold start).
    from hotgo.serve import Project, Unit, serve

    project = Project([Unit("", settings, package, artifact)], go, cwd, state_dir, run_dir,
                      settings_file(namespace, cwd), generate=steps)
    return serve(project, log, stack, head_start)


def _run_several(planned: List[Planned], steps: List[GenerateStep], namespace: argparse.Namespace, cwd: Path,
                 log: Log, stack: ExitStack) -> int:
    """Every service's package found by go list (at once: bounded by the cores), then one loop."""
    from hotgo.serve import Project, Unit, serve

    root = project_root(cwd)
    go = find_go() if any(not p.settings.run_binary for p in planned) else ""

    def unit(plan: Planned) -> Unit:
        deployed = _artifact(plan.settings, cwd)
        if deployed is not None:
            package, artifact = deployed
            return Unit(plan.name, plan.settings, dataclasses.replace(package, name=plan.name), artifact)
        settings = plan.settings
        try:
            found = resolve_package(go, cwd, settings.build_package, settings.build_env, settings.build_flags)
        except UsageError as err:
            raise UsageError(f"service {plan.name}: {err}") from None
        return Unit(plan.name, settings, dataclasses.replace(found, name=plan.name), None)

    with ThreadPoolExecutor(max_workers=min(len(planned), os.cpu_count() or 1)) as pool:
        units = list(pool.map(unit, planned))
    for plan in planned:
        _preflight(plan, root, cwd)
    state_dir, run_dir = _lock_state(root, stack)
    project = Project(units, go, cwd, state_dir, run_dir, settings_file(namespace, cwd), root=root, generate=steps)
    return serve(project, log, stack, None)


def _preflight(planned: Planned, root: Path, cwd: Path) -> None:
    settings, set_at = planned.settings, planned.where
    preflight.check_watch_paths(settings.watch_paths, root, set_at.get("watch_paths", "[watch] paths"))
    preflight.check_validate_command(settings.config_validate, cwd,
                                     set_at.get("config_validate", "[config] validate"))


def _lock_state(root: Path, stack: ExitStack) -> Tuple[Path, RunDir]:
    """.hotgo/ at the project root, locked: one hotgo per project."""
    state_dir = _state_dir(root)
    run_dir = RunDir(state_dir)
    run_dir.create()
    run_dir.lock()
    stack.callback(run_dir.unlock)
    return state_dir, run_dir


def _first_build(settings: Settings, package: GoPackage, go: str, state_dir: Path, log: Log) -> HeadStart:
    files = BuildFiles(state_dir / "bin", package.name)
    flags = go_flags(settings.build_profile, settings.build_flags, settings.build_env)
    return HeadStart(lambda done: Build(go, package.root, package.package, files.binary(1), 1, flags,
                                        settings.build_env, log, done, output=files.output()))


def _kill_left_behind(reaper: OrphanReaper, log: Log) -> None:
    left_behind = reaper.kill_all()
    if left_behind:
        log.info(f"killed {left_behind} process{'es' if left_behind != 1 else ''} the service left behind",
                 event="left_behind", processes=left_behind)
