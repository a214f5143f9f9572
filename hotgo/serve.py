"""`hotgo run`, once the project is known and its first build runs: the parts wired, the loop run.

Data flows one way: the project → sockets → the loop's inbox → the threads that post to it
(watcher, artifact poller, control socket, signal handlers) → the loop. Every resource is entered
on the run's ExitStack (hotgo/app.py), so a failure at any step releases exactly what was set up
before it. hotgo/app.py imports this module only after it started the first build: what is
imported here is imported while go builds.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

from hotgo import __version__, platform, stop_signals
from hotgo.browser.attach import open_proxy, page_state
from hotgo.build.go_module import GoPackage, embed_patterns, local_module_dirs
from hotgo.build.head_start import HeadStart
from hotgo.choices import SocketMode
from hotgo.control.channel import REPLY_WAIT, ControlServer, RunDir
from hotgo.handoff.shared_port import SharedPort
from hotgo.handoff.sockets import bind_shared, bound_address
from hotgo.helper.outdated import warn_outdated
from hotgo.log import Log
from hotgo.loop.events import ArtifactChanged, ControlRequest, FilesChanged, ReopenLog, ReplySlot, StopRequested
from hotgo.loop.inbox import Inbox
from hotgo.loop.service import Service
from hotgo.loop.supervisor import Supervisor
from hotgo.settings.file_watch import SettingsFileWatch
from hotgo.settings.profiles import profile_line
from hotgo.settings.schema import Settings
from hotgo.watch.artifact import ArtifactWatcher
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import Watcher


@dataclass(frozen=True)
class Project:
    """What hotgo/app.py found before the first build: the settings and where everything is."""

    settings: Settings
    package: GoPackage
    go: str  # the go command ("" in artifact mode)
    artifact: Optional[Path]  # artifact mode: the prebuilt binary deployed instead of a build
    cwd: Path
    state_dir: Path
    run_dir: RunDir  # created and locked
    settings_file: Path  # hotgo.toml (or --config), watched for edits hotgo cannot apply live


def serve(project: Project, log: Log, stack: ExitStack, head_start: Optional[HeadStart]) -> int:
    settings, package, artifact = project.settings, project.package, project.artifact
    notify_dir = Path(tempfile.mkdtemp(prefix="hotgo-"))
    stack.callback(shutil.rmtree, notify_dir, ignore_errors=True)
    listeners = bind_shared(settings.run_listen) if settings.socket_mode is SocketMode.INHERIT else []
    for sock in listeners:
        stack.callback(sock.close)
    addresses = [bound_address(s, a) for s, a in zip(listeners, settings.run_listen)] or list(settings.run_listen)
    config_filter = PathFilter(package.root, settings.config_files, []) if settings.config_files else None
    shared = SharedPort(settings.socket_mode, settings.run_socket != SocketMode.AUTO, addresses, listeners)
    service = Service(settings, package, project.go, shared, project.cwd, project.state_dir, notify_dir,
                      config_filter, artifact)

    inbox = Inbox(time.monotonic)
    with stop_signals.interruptible():  # the walk for embed patterns: a big tree takes a while
        filters = _watch_filters(settings, package, artifact)
    # Only sources build at once on a closed write; config pushes keep their own coalescing.
    watcher = Watcher(filters, settings.watch_settle, settings.watch_max_wait, settings.watch_poll,
                      lambda change: inbox.post(FilesChanged(change)), log,
                      lambda path: config_filter is None or not config_filter.relevant(path)) if filters else None
    pages = page_state(settings, addresses, log)
    front = None
    if settings.front_listen:
        from hotgo.browser.front_door import open_front  # go build, once: only a run with --front pays it

        front = open_front(settings.front_listen, addresses, project.go, project.state_dir,
                           settings.run_ready_timeout + settings.run_drain_timeout, inbox.post, log)
        stack.callback(front.stop)
    supervisor = Supervisor(service, log, inbox=inbox, browser=pages, front=front,
                            quiet_at=watcher.quiet_at if watcher is not None else lambda: 0.0,
                            supervisor_socket=os.environ.get("NOTIFY_SOCKET", ""), head_start=head_start)
    stack.callback(_kill_generations, supervisor)
    _handle_reopen(inbox)
    _banner(settings, service, log)
    if artifact is None:  # a copy of the Go helper older than this hotgo's: say how to update it
        warn_outdated(package.root, project.cwd, log)

    stack.callback(ControlServer(project.run_dir, lambda request: _ask_loop(inbox, request)).close)
    if pages is not None:
        stack.callback(open_proxy(settings, addresses, pages, log, front.address if front is not None else "").stop)
    if watcher is not None:
        watcher.start()
        stack.callback(watcher.stop)
    if artifact is not None:
        artifacts = ArtifactWatcher(artifact, settings.watch_settle, lambda p: inbox.post(ArtifactChanged(p)))
        artifacts.start()
        stack.callback(artifacts.stop)
    settings_watch = SettingsFileWatch(project.settings_file, log)
    settings_watch.start()
    stack.callback(settings_watch.stop)
    stop_signals.check()  # a request that came during a step that cannot be cut short
    # From here on the handlers only post; the loop decides (a second request kills).
    stop_signals.deliver_to(lambda name: inbox.post(StopRequested(name)))
    return supervisor.run()


def _watch_filters(settings: Settings, package: GoPackage, artifact: Optional[Path]) -> List[PathFilter]:
    if artifact is not None:  # the binary is polled (watch/artifact.py); only config files are watched
        if not settings.config_files:
            return []
        return [PathFilter(package.root, settings.config_files, settings.watch_exclude)]
    include = list(settings.watch_include) + settings.config_files
    include += embed_patterns(package.root, PathFilter(package.root, include, settings.watch_exclude).walk())
    filters = [PathFilter(package.root, include, settings.watch_exclude)]
    filters += [PathFilter((package.root / p).resolve(), settings.watch_include, settings.watch_exclude)
                for p in settings.watch_paths]
    # Local `replace` targets and go.work `use` dirs: an edit in a sibling library rebuilds too.
    filters += [PathFilter(d, settings.watch_include, settings.watch_exclude) for d in local_module_dirs(package.root)]
    return filters


def _ask_loop(inbox: Inbox, request: Dict[str, object]) -> Dict[str, object]:
    """On the control socket's thread: post the request, wait for the loop's answer."""
    slot = ReplySlot()
    inbox.post(ControlRequest(str(request.get("command", "")), slot))
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


def _kill_generations(supervisor: Supervisor) -> None:
    for generation in supervisor.lineup.alive():
        generation.kill()
