"""Command line: `hotgo run`, `hotgo version`. Flags are derived from hotgo.settings."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from hotgo import __version__, platform
from hotgo.browser import attach
from hotgo.build.go_module import (
    GoPackage,
    embed_patterns,
    find_go,
    find_module_root,
    local_module_dirs,
    resolve_package,
)
from hotgo.choices import SocketMode
from hotgo.control.channel import ControlServer, RunDir, request
from hotgo.control.status_text import describe_status
from hotgo.errors import RuntimeFailure, UsageError
from hotgo.handoff.sockets import bind_shared, bound_address
from hotgo.init import template as initfile
from hotgo.log import LOG_FORMATS, Log, colour_wanted
from hotgo.loop.events import ArtifactChanged, ControlRequest, FilesChanged, ReopenLog, ReplySlot, StopRequested
from hotgo.loop.supervisor import Supervisor
from hotgo.platform.reaper import OrphanReaper
from hotgo.settings import env_file, preflight, toml_file
from hotgo.settings.file_watch import SettingsFileWatch
from hotgo.settings.profiles import profile_line
from hotgo.settings.schema import SETTINGS, Settings, Value, resolve
from hotgo.settings.toml_file import CONFIG_NAME
from hotgo.watch.artifact import ArtifactWatcher
from hotgo.watch.filters import PathFilter
from hotgo.watch.watcher import Watcher


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # prog is "hotgo" or "hotgo run": the help to read is that very command's
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hotgo", description="Watch, rebuild and hand off a Go service on one shared port.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = commands.add_parser("run", help="build, run and hot-reload a Go service")
    run.add_argument("package", nargs="?", default=None, metavar="PKG",
                     help="Go package to build (default: build.package, '.')")
    run.add_argument("--config", metavar="FILE", help=f"settings file (default: {CONFIG_NAME} at the module root)")
    for setting in SETTINGS:
        if setting.flag is None:
            continue
        if setting.is_switch:
            run.add_argument(setting.flag, dest=setting.dest, action="store_const", const=True,
                             help=setting.help)
        else:
            run.add_argument(setting.flag, dest=setting.dest, metavar=setting.metavar,
                             action="append" if setting.repeat else "store", help=setting.help)
    run.add_argument("--no-color", action="store_true", help="plain output (also when NO_COLOR is set)")
    run.add_argument("--log-format", choices=LOG_FORMATS, default="text",
                     help="json: one object per line (time, level, event, generation, pid, message)")
    run.add_argument("--log-file", metavar="FILE",
                     help="append to FILE instead of stdout; reopened on SIGUSR1, rotated at 10 MiB")
    init = commands.add_parser("init", help=f"write a commented {CONFIG_NAME} at the module root")
    init.add_argument("--force", action="store_true", help=f"overwrite an existing {CONFIG_NAME}")
    status = commands.add_parser("status", help="what the running hotgo of this project serves")
    status.add_argument("--json", action="store_true", help="one JSON object")
    for name, text in (("reload", "rebuild (or redeploy the binary) and hand off now"),
                       ("rollback", "hand off to the previous good build"),
                       ("stop", "drain the service and stop hotgo")):
        commands.add_parser(name, help=text).add_argument("--json", action="store_true", help="JSON reply")
    commands.add_parser("version", help="print hotgo's version")
    return parser


def values_from_flags(namespace: argparse.Namespace, app_args: List[str]) -> Dict[str, Value]:
    values: Dict[str, Value] = {}
    for setting in SETTINGS:
        raw = getattr(namespace, setting.dest, None) if setting.flag else None
        if raw is None:
            continue
        try:
            values[setting.dest] = setting.convert(raw)
        except ValueError as err:
            raise UsageError(f"{setting.flag}: {err}") from None
    if namespace.package:
        values["build_package"] = namespace.package
    if app_args:
        values["run_args"] = app_args
    return values


def load_settings(namespace: argparse.Namespace, app_args: List[str], cwd: Path,
                  where: Optional[Dict[str, str]] = None) -> Settings:
    """Defaults, then hotgo.toml, then flags: the later wins. `where` gets where each value was set."""
    flag_values = values_from_flags(namespace, app_args)
    if flag_values.get("run_binary") and namespace.package:
        raise UsageError(f"PKG {namespace.package!r} and --binary exclude each other: --binary runs a prebuilt "
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
        base = cwd if from_flag else config_path.parent  # type: ignore[union-attr]
        named_in = "--env-file" if from_flag else locations["run_env_file"]
        from_file = env_file.load(base / settings.run_env_file, named_in)
        settings = dataclasses.replace(settings, run_env={**from_file, **settings.run_env})
    return settings


def settings_file(namespace: argparse.Namespace, cwd: Path) -> Path:
    """--config, else hotgo.toml at the project root (which may not exist yet)."""
    return (cwd / namespace.config).absolute() if namespace.config else project_root(cwd) / CONFIG_NAME


def _tolerant_output() -> None:
    """Windows writes a pipe or file (nssm, `| tee`) in the ANSI code page, which lacks │ · →:
    replace what it cannot encode rather than die on the first log line."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="replace")


def main(argv: Optional[Sequence[str]] = None) -> int:
    _tolerant_output()
    args = list(sys.argv[1:] if argv is None else argv)
    app_args: List[str] = []
    if "--" in args:
        split = args.index("--")
        args, app_args = args[:split], args[split + 1 :]
    try:
        namespace, unknown = build_parser().parse_known_args(args)
        if unknown:
            command = f"hotgo {namespace.command}" if namespace.command else "hotgo"
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see `{command} --help`)")
        if namespace.command == "version":
            print(f"hotgo {__version__}")
            return 0
        if namespace.command == "init":
            return init_command(namespace.force)
        if namespace.command in ("status", "reload", "rollback", "stop"):
            return control_command(namespace.command, namespace.json)
        if namespace.command != "run":
            build_parser().print_help()
            return 2
        return run(namespace, app_args)
    except (UsageError, RuntimeFailure) as err:
        print(f"hotgo: error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:  # a bug: one line for the user, the traceback on request
        if os.environ.get("HOTGO_DEBUG"):
            traceback.print_exc()
        print(f"hotgo: internal error: {err!r} (set HOTGO_DEBUG=1 for details)", file=sys.stderr)
        return 1


def current_directory() -> Path:
    try:
        return Path.cwd()
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists (deleted or moved away): "
                         "cd into the project again and rerun") from None


def init_command(force: bool) -> int:
    root = find_module_root(current_directory())
    target, detected = initfile.write(root, force)
    print(f"wrote {target}")
    for line in detected:
        print(f"  {line}")
    return 0


def _project(settings: Settings, cwd: Path) -> Tuple[GoPackage, str, Optional[Path]]:
    """The package to build (and the go binary), or in artifact mode the prebuilt binary."""
    if settings.run_binary:
        binary = (cwd / settings.run_binary).absolute()
        root = project_root(cwd)
        name = binary.name[: -len(".exe")] if binary.name.endswith(".exe") else binary.name
        return GoPackage(root=root, package=settings.run_binary, name=name), "", binary
    go = find_go()
    return resolve_package(go, cwd, settings.build_package, settings.build_env), go, None


def _watch_filters(settings: Settings, package: GoPackage, artifact: Optional[Path]) -> List[PathFilter]:
    if artifact is not None:  # the binary is polled (hotgo.artifact); only config files are watched
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


def _make_log(namespace: argparse.Namespace) -> Log:
    if namespace.log_file:
        path = Path(namespace.log_file).absolute()
        try:
            return Log(json_format=namespace.log_format == "json", path=path)
        except OSError as err:
            reason = "is a directory" if path.is_dir() else (err.strerror or str(err)).lower()
            raise UsageError(f"--log-file {path}: {reason}; name a file hotgo can append to") from None
    if sys.stdout is None:  # started with stdout closed (>&-)
        raise UsageError("stdout is closed: redirect it (>/dev/null) or write the log with --log-file FILE")
    return Log(sys.stdout, colour_wanted(sys.stdout, namespace.no_color), json_format=namespace.log_format == "json")


def run(namespace: argparse.Namespace, app_args: List[str]) -> int:
    cwd = current_directory()
    set_at: Dict[str, str] = {}
    settings = load_settings(namespace, app_args, cwd, set_at)
    log = _make_log(namespace)
    settings_watch = SettingsFileWatch(settings_file(namespace, cwd), log)
    package, go, artifact = _project(settings, cwd)
    preflight.check_watch_paths(settings.watch_paths, package.root, set_at.get("watch_paths", "[watch] paths"))
    state_dir = package.root / ".hotgo"
    try:
        state_dir.mkdir(exist_ok=True)
    except OSError as err:
        raise RuntimeFailure(f"cannot create {state_dir}: {err.strerror}") from None
    run_dir = RunDir(state_dir)
    run_dir.create()
    run_dir.lock()
    reaper = OrphanReaper()  # before the first child: its orphans are hotgo's to reap (PID 1, subreaper)
    reaper.start()

    listeners = bind_shared(settings.run_listen) if settings.socket_mode is SocketMode.INHERIT else []
    addresses = [bound_address(s, a) for s, a in zip(listeners, settings.run_listen)] or list(settings.run_listen)
    notify_dir = Path(tempfile.mkdtemp(prefix="hotgo-"))
    config_filter = PathFilter(package.root, settings.config_files, []) if settings.config_files else None
    supervisor = Supervisor(settings, package, go, log, addresses, listeners, cwd, state_dir, notify_dir,
                            config_filter, artifact, os.environ.get("NOTIFY_SOCKET", ""))
    filters = _watch_filters(settings, package, artifact)
    # Only sources build at once on a closed write; config pushes keep their own coalescing.
    watcher = Watcher(filters, settings.watch_settle, settings.watch_max_wait, settings.watch_poll,
                      lambda change: supervisor.post(FilesChanged(change)), log,
                      lambda path: config_filter is None or not config_filter.relevant(path)) if filters else None
    if watcher is not None:
        supervisor.quiet_at = watcher.quiet_at
    artifacts = (ArtifactWatcher(artifact, settings.watch_settle, lambda p: supervisor.post(ArtifactChanged(p)))
                 if artifact is not None else None)

    def control(request: Dict[str, object]) -> Dict[str, object]:
        slot = ReplySlot()
        supervisor.post(ControlRequest(str(request.get("command", "")), slot))
        if not slot.done.wait(20):
            return {"ok": False, "error": "hotgo is busy; try again"}
        return slot.reply

    def request_stop(signum: int, _frame: object) -> None:
        supervisor.post(StopRequested(signal.Signals(signum).name))

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), request_stop)
    if hasattr(signal, "SIGUSR1"):
        signal.signal(signal.SIGUSR1, lambda _s, _f: supervisor.post(ReopenLog()))

    where = ", ".join(f"{a} ({settings.socket_mode})" for a in addresses) or "no shared port (socket mode none)"
    what = f"artifact {artifact}" if artifact else package.package
    built = "" if artifact else f" · {profile_line(settings.build_profile)}"
    log.info(f"hotgo {__version__} · {what} in {package.root} · {where}{built}", event="start_hotgo")
    if settings.socket_mode == "none":
        log.warn("no --listen: every reload stops the old process before the new one starts (downtime)")
    caveat = platform.reuseport_handoff_caveat() if settings.socket_mode is SocketMode.REUSEPORT else None
    if caveat:
        log.warn(caveat)
    server: Optional[ControlServer] = None
    proxy = None
    try:
        server = ControlServer(run_dir, control)
        proxy = attach.attach(settings, addresses, supervisor, log)
        if watcher is not None:
            watcher.start()
        if artifacts is not None:
            artifacts.start()
        settings_watch.start()
        return supervisor.run()
    finally:
        if server is not None:
            server.close()
        if proxy is not None:
            proxy.stop()
        if watcher is not None:
            watcher.stop()
        if artifacts is not None:
            artifacts.stop()
        settings_watch.stop()
        for generation in supervisor.alive():
            generation.kill()
        left_behind = reaper.kill_all()
        if left_behind:
            log.info(f"killed {left_behind} process{'es' if left_behind != 1 else ''} the service left behind")
        for sock in listeners:
            sock.close()
        shutil.rmtree(notify_dir, ignore_errors=True)
        run_dir.unlock()
        log.flush(timeout=2)  # the writer thread dies with the process: its queue first


def control_command(command: str, as_json: bool) -> int:
    """hotgo status / reload / rollback / stop: ask the hotgo running for this project."""
    root = project_root(current_directory())
    state_dir = root / ".hotgo"
    reply = request(state_dir, command)
    if command == "status" and reply.get("ok"):
        status = reply["status"]
        print(json.dumps(status, indent=2) if as_json else "\n".join(describe_status(status)))
        return 0
    if as_json:
        print(json.dumps(reply))
    if not reply.get("ok"):
        print(f"hotgo: {command}: {reply.get('error', 'failed')}", file=sys.stderr)
        return 1
    print(reply.get("message", "ok"))
    if command == "stop":
        return _wait_for_exit(int(reply.get("pid", 0)))
    return 0


def project_root(cwd: Path) -> Path:
    """The Go module root; without one (a staging host holding only a binary), the directory itself."""
    try:
        return find_module_root(cwd)
    except UsageError:
        return cwd


def _wait_for_exit(pid: int, timeout: float = 120) -> int:
    """`hotgo stop` returns once hotgo has drained and exited (a zombie counts as exited)."""
    import time

    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return 0
        except psutil.NoSuchProcess:
            return 0
        time.sleep(0.05)
    print(f"hotgo: stop: pid {pid} still running after {timeout:g}s", file=sys.stderr)
    return 1
