"""`hotgo run`, once the project is known and its first build runs: the parts wired, the loop run.

Data flows one way: the project → sockets → the loop's inbox → the threads that post to it
(watcher, artifact poller, control socket, signal handlers) → the loop. Every resource is entered
on the run's ExitStack (hotgo/app.py), so a failure at any step releases exactly what was set up
before it. hotgo/app.py imports this module only after it started the first build: what is
imported here is imported while go builds.
"""

from __future__ import annotations

import functools
import os
import shutil
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from hotgo import __version__, platform, stop_signals
from hotgo.browser.attach import open_proxy, page_state
from hotgo.browser.front_door import FrontDoor
from hotgo.build.go_build import Build, BuildSlots
from hotgo.build.go_module import GoPackage, embed_patterns, local_module_dirs
from hotgo.build.head_start import HeadStart
from hotgo.build.import_graph import ServiceSpec
from hotgo.choices import SocketMode
from hotgo.control.channel import REPLY_WAIT, ControlServer, RunDir
from hotgo.generate.steps import GenerateStep
from hotgo.handoff.shared_port import SharedPort
from hotgo.handoff.sockets import bind_shared, bound_address
from hotgo.helper.outdated import warn_outdated
from hotgo.log import Log
from hotgo.loop.change_router import ChangeRouter
from hotgo.loop.events import ArtifactChanged, ControlRequest, FilesChanged, ReopenLog, ReplySlot, StopRequested
from hotgo.loop.fleet import Fleet, Lane
from hotgo.loop.generate_steps import GenerateSteps
from hotgo.loop.graph_updates import GraphUpdates
from hotgo.loop.inbox import Inbox
from hotgo.loop.service import Service
from hotgo.loop.supervisor import Supervisor
from hotgo.loop.wakeup import SignalWakeup
from hotgo.settings.file_watch import SettingsFileWatch
from hotgo.settings.profiles import profile_line
from hotgo.settings.schema import Settings
from hotgo.watch.artifact import ArtifactWatcher
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import Watcher


@dataclass(frozen=True)
class Unit:
    """One service of the run, as hotgo/app.py found it."""

    name: str  # "" when the run has one service (its output stays as it always was)
    settings: Settings
    package: GoPackage
    artifact: Optional[Path]  # artifact mode: the prebuilt binary deployed instead of a build


@dataclass(frozen=True)
class Project:
    """What hotgo/app.py found before the first build: the services and where everything is."""

    units: List[Unit]
    go: str  # the go command ("" when every service runs a prebuilt binary)
    cwd: Path
    state_dir: Path
    run_dir: RunDir  # created and locked
    settings_file: Path  # hotgo.toml (or --config), watched for edits hotgo cannot apply live
    root: Optional[Path] = None  # the watched tree; the service's module root when it is one
    generate: List[GenerateStep] = field(default_factory=list)  # [[generate]]: code generators

    @property
    def tree(self) -> Path:
        return self.root or self.units[0].package.root

    @property
    def settings(self) -> Settings:
        """The run-wide settings ([watch], log): the same for every service."""
        return self.units[0].settings


def serve(project: Project, log: Log, stack: ExitStack, head_start: Optional[HeadStart]) -> int:
    settings = project.settings
    notify_root = Path(tempfile.mkdtemp(prefix="hotgo-"))
    stack.callback(shutil.rmtree, notify_root, ignore_errors=True)
    inbox = Inbox(time.monotonic)
    several = len(project.units) > 1
    logs = {unit.name: log.named(unit.name, index) if several else log for index, unit in enumerate(project.units)}
    services = {unit.name: _service(project, unit, notify_root, stack) for unit in project.units}
    with stop_signals.interruptible():  # the walk for embed patterns: a big tree takes a while
        filters = _watch_filters(project)
    config_filters = {name: service.config_filter for name, service in services.items()}
    # Only sources build at once on a closed write; config pushes keep their own coalescing.
    watcher = Watcher(filters, settings.watch_settle, settings.watch_max_wait, settings.watch_poll,
                      lambda change: inbox.post(FilesChanged(change)), log,
                      lambda path: not any(f is not None and f.relevant(path) for f in config_filters.values())
                      ) if filters else None
    slots = BuildSlots(os.cpu_count() or 1) if several else None  # builds that run together share the cores
    supervisors: Dict[str, Supervisor] = {}
    for unit in project.units:
        service, unit_log = services[unit.name], logs[unit.name]
        pages = page_state(unit.settings, service.addresses, unit_log)
        lane = Lane(inbox, unit.name)
        front = _front(project, unit.settings, service, lane, unit_log, stack)
        supervisors[unit.name] = Supervisor(
            service, unit_log, inbox=lane, browser=pages, front=front,
            quiet_at=watcher.quiet_at if watcher is not None else lambda: 0.0,
            supervisor_socket=os.environ.get("NOTIFY_SOCKET", "") if not several else "",
            head_start=head_start if not several else None,
            new_build=functools.partial(Build, slots=slots))
        _banner(unit.settings, service, unit_log)
        if pages is not None:  # with --front too, the pages' proxy goes through the front door
            upstream = front.address if front is not None else ""
            stack.callback(open_proxy(unit.settings, service.addresses, pages, unit_log, upstream).stop)
        if unit.artifact is not None:
            artifacts = ArtifactWatcher(unit.artifact, settings.watch_settle, _poster(lane))
            artifacts.start()
            stack.callback(artifacts.stop)
    stack.callback(_kill_generations, list(supervisors.values()))
    router = ChangeRouter(list(supervisors), project.tree, log, config_filters,
                          builds_sources=lambda name: services[name].artifact is None)
    fleet = Fleet(supervisors, inbox, log, router)
    if several:
        fleet.graph = _graph(project, router, inbox, log)
    if project.generate and filters:
        browsers = [s.browser for s in supervisors.values() if s.browser is not None]
        fleet.generate = GenerateSteps(project.generate, project.tree, filters[0], {}, log, inbox.post,
                                       fleet.build, browsers)
    _handle_reopen(inbox)
    if project.go:  # a copy of the Go helper older than this hotgo's: say how to update it
        warn_outdated(project.tree, project.cwd, log)

    stack.callback(ControlServer(project.run_dir, lambda request: _ask_loop(inbox, request)).close)
    if watcher is not None:
        watcher.start()
        stack.callback(watcher.stop)
    settings_watch = SettingsFileWatch(project.settings_file, log)
    settings_watch.start()
    stack.callback(settings_watch.stop)
    wakeup = SignalWakeup(inbox.nudge)  # a signal another thread was given still wakes the loop
    if wakeup.start():
        stack.callback(wakeup.stop)
    stop_signals.check()  # a request that came during a step that cannot be cut short
    # From here on the handlers only post; the loop decides (a second request kills).
    stop_signals.deliver_to(lambda name: inbox.post(StopRequested(name)))
    return fleet.run()


def _graph(project: Project, router: ChangeRouter, inbox: Inbox, log: Log) -> GraphUpdates:
    """What each service imports, read in the background; the router routes by it once known."""
    specs = {unit.name: ServiceSpec(unit.package.root, unit.package.package, unit.settings.build_env,
                                    unit.settings.build_flags) for unit in project.units if unit.artifact is None}
    updates = GraphUpdates(project.go, specs, inbox.post, log, router.graph_loaded)
    router.refresh = updates.read
    updates.read(set(specs))
    return updates


def _front(project: Project, settings: Settings, service: Service, lane: Lane, log: Log,
           stack: ExitStack) -> Optional[FrontDoor]:
    """--front ([front] listen): the front door before this service, built once and run for the run."""
    if not settings.front_listen:
        return None
    from hotgo.browser.front_door import open_front  # go build, once: only a run with --front pays it

    front = open_front(settings.front_listen, list(service.addresses), project.go, project.state_dir,
                       settings.run_ready_timeout + settings.run_drain_timeout, lane.post, log)
    stack.callback(front.stop)
    return front


def _poster(lane: Lane) -> Callable[[Path], None]:
    return lambda path: lane.post(ArtifactChanged(path))


def _service(project: Project, unit: Unit, notify_root: Path, stack: ExitStack) -> Service:
    """One service's sockets, bound now, and where its files go."""
    settings, package = unit.settings, unit.package
    notify_dir = notify_root / unit.name if unit.name else notify_root
    notify_dir.mkdir(exist_ok=True)
    listeners = bind_shared(settings.run_listen) if settings.socket_mode is SocketMode.INHERIT else []
    for sock in listeners:
        stack.callback(sock.close)
    addresses = [bound_address(s, a) for s, a in zip(listeners, settings.run_listen)] or list(settings.run_listen)
    config_filter = PathFilter(package.root, settings.config_files, []) if settings.config_files else None
    shared = SharedPort(settings.socket_mode, settings.run_socket != SocketMode.AUTO, addresses, listeners)
    return Service(settings, package, project.go, shared, project.cwd, project.state_dir, notify_dir,
                   config_filter, unit.artifact)


def _watch_filters(project: Project) -> List[PathFilter]:
    """One watcher for every service: the module root, [watch] paths, local modules, config files."""
    settings, root = project.settings, project.tree
    config_files = [glob for unit in project.units for glob in unit.settings.config_files]
    if all(unit.artifact is not None for unit in project.units):
        # The binaries are polled (watch/artifact.py); only config files are watched.
        return [PathFilter(root, config_files, settings.watch_exclude)] if config_files else []
    include = list(settings.watch_include) + config_files + [g for step in project.generate for g in step.watch]
    include += embed_patterns(root, PathFilter(root, include, settings.watch_exclude).walk())
    filters = [PathFilter(root, include, settings.watch_exclude)]
    filters += [PathFilter((root / p).resolve(), settings.watch_include, settings.watch_exclude)
                for p in settings.watch_paths]
    # Local `replace` targets and go.work `use` dirs: an edit in a sibling library rebuilds too.
    filters += [PathFilter(d, settings.watch_include, settings.watch_exclude) for d in local_module_dirs(root)]
    return filters


def _ask_loop(inbox: Inbox, request: Dict[str, object]) -> Dict[str, object]:
    """On the control socket's thread: post the request, wait for the loop's answer."""
    slot = ReplySlot()
    inbox.post(ControlRequest(str(request.get("command", "")), slot, str(request.get("service", "") or "")))
    if not slot.done.wait(REPLY_WAIT):  # before the client gives up: "busy", not silence
        return {"ok": False, "error": "hotgo is busy; try again"}
    return slot.reply


def _handle_reopen(inbox: Inbox) -> None:
    """SIGUSR1 (logrotate): reopen --log-file; the handler only posts. (The stop signals: stop_signals.py.)"""
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda _s, _f: inbox.post(ReopenLog()))


def _banner(settings: Settings, service: Service, log: Log) -> None:
    where = (", ".join(f"{a} ({settings.socket_mode})" for a in service.addresses)
             or "no shared port (socket mode none)")
    what = f"artifact {service.artifact}" if service.artifact else service.package.package
    built = "" if service.artifact else f" · {profile_line(settings.build_profile)}"
    log.info(f"hotgo {__version__} · {what} in {service.package.root} · {where}{built}", event="start_hotgo")
    if settings.socket_mode is SocketMode.NONE:
        if service.addresses:  # --socket none with --listen: the address is looked at, not shared
            log.warn(f"socket mode none: hotgo does not share {', '.join(service.shown_addresses)}; every reload "
                     "stops the old process before the new one starts (downtime). The address tells when a new "
                     "process is ready (and where --browser goes)", event="no_listen")
        else:
            log.warn("no --listen: every reload stops the old process before the new one starts (downtime)",
                     event="no_listen")
    caveat = platform.reuseport_handoff_caveat() if settings.socket_mode is SocketMode.REUSEPORT else None
    if caveat:
        log.warn(caveat)


def _kill_generations(supervisors: List[Supervisor]) -> None:
    for supervisor in supervisors:
        for generation in supervisor.lineup.alive():
            generation.kill()
