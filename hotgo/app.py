"""`hotgo run`: settings in, parts wired, the loop run, everything torn down in reverse.

Data flows one way: settings → the project (package, module root) → sockets → the loop's inbox
→ the threads that post to it (watcher, artifact poller, control socket, signal handlers) → the
loop. Every resource is entered on one ExitStack, so a failure at any step releases exactly
what was set up before it.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from hotgo import __version__, platform, stop_signals
from hotgo.browser.attach import open_proxy, page_state
from hotgo.build.go_module import (
    GoPackage,
    embed_patterns,
    find_go,
    find_module_root,
    local_module_dirs,
    resolve_package,
)
from hotgo.choices import SocketMode
from hotgo.control.channel import REPLY_WAIT, ControlServer, RunDir
from hotgo.errors import RuntimeFailure, UsageError, shown, shown_name
from hotgo.handoff.shared_port import SharedPort
from hotgo.handoff.sockets import bind_shared, bound_address
from hotgo.helper.outdated import warn_outdated
from hotgo.log import Log, colour_wanted
from hotgo.loop.events import ArtifactChanged, ControlRequest, FilesChanged, ReopenLog, ReplySlot, StopRequested
from hotgo.loop.inbox import Inbox
from hotgo.loop.service import Service
from hotgo.loop.supervisor import Supervisor
from hotgo.platform.reaper import OrphanReaper
from hotgo.settings import env_file, limits, preflight, toml_file
from hotgo.settings.file_watch import SettingsFileWatch
from hotgo.settings.profiles import profile_line
from hotgo.settings.schema import SETTINGS, Settings, Value, resolve
from hotgo.settings.toml_file import CONFIG_NAME
from hotgo.watch.artifact import ArtifactWatcher
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import Watcher

SETTING_OF = {setting.dest: setting for setting in SETTINGS}


# -- settings ------------------------------------------------------------------------
def values_from_flags(namespace: argparse.Namespace, app_args: List[str]) -> Dict[str, Value]:
    values: Dict[str, Value] = {}
    for flag, text in (("--config", namespace.config), ("--log-file", namespace.log_file)):
        try:
            limits.file_path(text or "")
        except ValueError as err:
            raise UsageError(f"{flag}: {err}") from None
    for setting in SETTINGS:
        raw = getattr(namespace, setting.dest, None) if setting.flag else None
        if raw is None:
            continue
        try:
            values[setting.dest] = setting.parse(raw)
        except ValueError as err:
            raise UsageError(f"{setting.flag}: {err}") from None
    # PKG and the words after `--` are checked as [build] package and [run] args are.
    for dest, raw, named in (("build_package", namespace.package, "PKG"), ("run_args", app_args, "--")):
        if raw:
            try:
                values[dest] = SETTING_OF[dest].parse(raw)
            except ValueError as err:
                raise UsageError(f"{named}: {err}") from None
    return values


def load_settings(namespace: argparse.Namespace, app_args: List[str], cwd: Path,
                  where: Optional[Dict[str, str]] = None) -> Settings:
    """Defaults, then hotgo.toml, then flags: the later wins. `where` gets where each value was set."""
    flag_values = values_from_flags(namespace, app_args)
    if flag_values.get("run_binary") and namespace.package:
        raise UsageError(f"PKG {shown(namespace.package)} and --binary exclude each other: --binary runs a prebuilt "
                         "binary and builds nothing; drop one of them")
    candidate = settings_file(namespace, cwd)
    # Also a directory or a broken link: toml_file.load says what is wrong instead of using defaults.
    config_path = candidate if namespace.config or os.path.lexists(candidate) else None
    file_values, locations = toml_file.load(config_path) if config_path else ({}, {})
    flag_names = {s.dest: s.flag for s in SETTINGS if s.flag and s.dest in flag_values}
    if where is not None:
        where.update({**locations, **flag_names})
    settings = resolve({**file_values, **flag_values}, {**locations, **flag_names})
    if settings.run_env_file:
        # A path in hotgo.toml is relative to that file; a flag's to the current directory.
        from_flag = "run_env_file" in flag_values or config_path is None
        base = cwd if from_flag or config_path is None else config_path.parent
        named_in = "--env-file" if from_flag else locations["run_env_file"]
        from_file = env_file.load(base / settings.run_env_file, named_in)
        settings = dataclasses.replace(settings, run_env={**from_file, **settings.run_env})
    return settings


def settings_file(namespace: argparse.Namespace, cwd: Path) -> Path:
    """--config, else hotgo.toml at the project root (which may not exist yet)."""
    return (cwd / namespace.config).absolute() if namespace.config else project_root(cwd) / CONFIG_NAME


def project_root(cwd: Path) -> Path:
    """The Go module root; without one (a staging host holding only a binary), the directory itself."""
    try:
        return find_module_root(cwd)
    except UsageError:
        return cwd


def current_directory() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists (deleted or moved away): "
                         "cd into the project again and rerun") from None


# -- the project -----------------------------------------------------------------------
def _project(settings: Settings, cwd: Path) -> Tuple[GoPackage, str, Optional[Path]]:
    """The package to build (and the go binary), or in artifact mode the prebuilt binary."""
    if settings.run_binary:
        binary = (cwd / settings.run_binary).absolute()
        name = binary.name[: -len(".exe")] if binary.name.endswith(".exe") else binary.name
        return GoPackage(root=project_root(cwd), package=settings.run_binary, name=name), "", binary
    go = find_go()
    return resolve_package(go, cwd, settings.build_package, settings.build_env), go, None


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


# -- wiring ------------------------------------------------------------------------------
def run(namespace: argparse.Namespace, app_args: List[str]) -> int:
    """A stop request (SIGINT, SIGTERM) before the loop runs cuts the slow steps short (the go list,
    the tree walk: `stop_signals.interruptible`); after any other step, the check before the loop
    ends the run. Either way what was set up is released and the exit code is 0."""
    stop_signals.install()  # hotgo/__main__.py did already; again for a run started in-process
    platform.limit_malloc_arenas(1)  # before the first thread: RSS stays flat over a day of reloads
    cwd = current_directory()
    set_at: Dict[str, str] = {}
    settings = load_settings(namespace, app_args, cwd, set_at)
    log = make_log(namespace)
    stack = ExitStack()
    try:
        stack.callback(log.flush, timeout=2)  # last out: the writer thread dies with the process
        # Before the first child (go list, whose `go` may be a wrapper script with children of its
        # own): its orphans are hotgo's to reap (PID 1, subreaper), also when a stop kills it.
        reaper = OrphanReaper()
        reaper.start()
        stack.callback(_kill_left_behind, reaper, log)
        package, go, artifact = _project(settings, cwd)
        preflight.check_watch_paths(settings.watch_paths, package.root, set_at.get("watch_paths", "[watch] paths"))
        preflight.check_validate_command(settings.config_validate, cwd,
                                         set_at.get("config_validate", "[config] validate"))
        state_dir = _state_dir(package.root)
        run_dir = RunDir(state_dir)
        run_dir.create()
        run_dir.lock()
        stack.callback(run_dir.unlock)
        notify_dir = Path(tempfile.mkdtemp(prefix="hotgo-"))
        stack.callback(shutil.rmtree, notify_dir, ignore_errors=True)
        listeners = bind_shared(settings.run_listen) if settings.socket_mode is SocketMode.INHERIT else []
        for sock in listeners:
            stack.callback(sock.close)
        addresses = [bound_address(s, a) for s, a in zip(listeners, settings.run_listen)] or list(settings.run_listen)
        config_filter = PathFilter(package.root, settings.config_files, []) if settings.config_files else None
        shared = SharedPort(settings.socket_mode, settings.run_socket != SocketMode.AUTO, addresses, listeners)
        service = Service(settings, package, go, shared, cwd, state_dir, notify_dir,
                          config_filter, artifact)

        inbox = Inbox(time.monotonic)
        with stop_signals.interruptible():  # the walk for embed patterns: a big tree takes a while
            filters = _watch_filters(settings, package, artifact)
        # Only sources build at once on a closed write; config pushes keep their own coalescing.
        watcher = Watcher(filters, settings.watch_settle, settings.watch_max_wait, settings.watch_poll,
                          lambda change: inbox.post(FilesChanged(change)), log,
                          lambda path: config_filter is None or not config_filter.relevant(path)) if filters else None
        pages = page_state(settings, addresses, log)
        supervisor = Supervisor(service, log, inbox=inbox, browser=pages,
                                quiet_at=watcher.quiet_at if watcher is not None else lambda: 0.0,
                                supervisor_socket=os.environ.get("NOTIFY_SOCKET", ""))
        stack.callback(_kill_generations, supervisor)
        _handle_reopen(inbox)
        _banner(settings, service, log)
        if artifact is None:  # a copy of the Go helper older than this hotgo's: say how to update it
            warn_outdated(package.root, cwd, log)

        stack.callback(ControlServer(run_dir, lambda request: _ask_loop(inbox, request)).close)
        if pages is not None:
            stack.callback(open_proxy(settings, addresses, pages, log).stop)
        if watcher is not None:
            watcher.start()
            stack.callback(watcher.stop)
        if artifact is not None:
            artifacts = ArtifactWatcher(artifact, settings.watch_settle, lambda p: inbox.post(ArtifactChanged(p)))
            artifacts.start()
            stack.callback(artifacts.stop)
        settings_watch = SettingsFileWatch(settings_file(namespace, cwd), log)
        settings_watch.start()
        stack.callback(settings_watch.stop)
        stop_signals.check()  # a request that came during a step that cannot be cut short
        # From here on the handlers only post; the loop decides (a second request kills).
        stop_signals.deliver_to(lambda name: inbox.post(StopRequested(name)))
        return supervisor.run()
    except stop_signals.Stopped as stop:
        log.info(f"{stop.name} before the first build: exiting", event="stopping", reason=stop.name,
                 generations=[])
        return 0
    finally:
        stack.close()


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


def _kill_left_behind(reaper: OrphanReaper, log: Log) -> None:
    left_behind = reaper.kill_all()
    if left_behind:
        log.info(f"killed {left_behind} process{'es' if left_behind != 1 else ''} the service left behind",
                 event="left_behind", processes=left_behind)
