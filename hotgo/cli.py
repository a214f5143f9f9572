"""The command line: parse it and dispatch (`hotgo run` is wired in hotgo.app). Flags come from the
settings' declarations (hotgo/settings/schema.py)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from pathlib import Path
from typing import List, Optional, Sequence

from hotgo import __version__, app, run_plan, stop_signals
from hotgo.build.go_module import find_module_root
from hotgo.control.channel import request
from hotgo.control.status_text import describe_status
from hotgo.errors import RuntimeFailure, UsageError
from hotgo.helper.write import DEFAULT_DIR, Written, write_helper
from hotgo.init import template as initfile
from hotgo.log import LOG_FORMATS
from hotgo.settings.schema import SETTINGS
from hotgo.settings.toml_file import CONFIG_NAME


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # prog is "hotgo" or "hotgo run": the help to read is that very command's
        raise UsageError(f"{message} (see `{self.prog} --help`)")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hotgo", description="Watch, rebuild and hand off a Go service on one shared port.")
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)
    run = commands.add_parser(
        "run", help="build, run and hot-reload a Go service",
        usage="hotgo run [PKG ...] [options] [-- SERVICE_ARGS...]",
        epilog="Arguments after -- go to the service unchanged, e.g. `hotgo run ./cmd/api --listen :8080 -- "
               "-config dev.yaml -v` (also [run] args in hotgo.toml).")
    run.add_argument("package", nargs="*", default=None, metavar="PKG",
                     help="Go package to build (default: build.package, '.'); several: a service each; with "
                          "[services.NAME] in hotgo.toml, the names of the services to run (default: all)")
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
    helper = commands.add_parser(
        "helper", help=f"write the Go helper package into the current module (default DIR {DEFAULT_DIR}; "
                       "package name hotgo), offline",
        description="Write the Go helper package (hotgo.ListenAndServe, hotgo.Listen, hotgo.Server, sd_notify) "
                    "from this installed hotgo into your module, without network; run it again to update the copy.")
    helper.add_argument("dir", nargs="?", default=None, metavar="DIR",
                        help=f"where to write it, relative to the current directory (default: {DEFAULT_DIR} "
                             "at the module root)")
    status = commands.add_parser("status", help="what the running hotgo of this project serves")
    status.add_argument("--json", action="store_true", help="one JSON object")
    for name, text in (("reload", "rebuild (or redeploy the binary) and hand off now"),
                       ("rollback", "hand off to the previous good build"),
                       ("stop", "drain the service and stop hotgo")):
        command = commands.add_parser(name, help=text)
        command.add_argument("--json", action="store_true", help="JSON reply")
    for command in (commands.choices[name] for name in ("status", "reload", "rollback", "stop")):
        command.add_argument("service", nargs="?", default="", metavar="NAME",
                             help="one service of several ([services.NAME]); default: every service")
    commands.add_parser("version", help="print hotgo's version")
    return parser


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
    command = ""
    try:
        namespace, unknown = build_parser().parse_known_args(args)
        command = namespace.command or ""
        if unknown:
            shown = f"hotgo {namespace.command}" if namespace.command else "hotgo"
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see `{shown} --help`)")
        if command == "run":  # its steps say which of them a stop may cut short (app.run)
            return app.run(namespace, app_args)
        if command in ("init", "helper"):  # files written in a few ms: never left half-written
            return _command(namespace)
        with stop_signals.interruptible():  # a client waiting for hotgo: nothing to unwind
            return _command(namespace)
    except stop_signals.Stopped as stop:
        return stop.exit_code(command)
    except (UsageError, RuntimeFailure) as err:
        print(f"hotgo: error: {err}", file=sys.stderr)
        return err.exit_code
    except Exception as err:  # a bug: one line for the user, the traceback on request
        if os.environ.get("HOTGO_DEBUG"):
            traceback.print_exc()
        print(f"hotgo: internal error: {err!r} (set HOTGO_DEBUG=1 for details)", file=sys.stderr)
        return 1


def _command(namespace: argparse.Namespace) -> int:
    if namespace.command == "version":
        print(f"hotgo {__version__}")
        return 0
    if namespace.command == "init":
        return init_command(namespace.force)
    if namespace.command == "helper":
        return helper_command(namespace.dir)
    if namespace.command in ("status", "reload", "rollback", "stop"):
        return control_command(namespace.command, namespace.json, namespace.service)
    build_parser().print_help()
    return 2


def init_command(force: bool) -> int:
    cwd = app.current_directory()
    root = find_module_root(cwd)
    target, detected = initfile.write(root, force, cwd)
    print(f"wrote {target}")
    for line in detected:
        print(f"  {line}")
    return 0


def helper_command(directory: Optional[str]) -> int:
    cwd = app.current_directory()
    for line in describe_written(write_helper(cwd, directory), cwd):
        print(line)
    return 0


def describe_written(written: Written, cwd: Path) -> List[str]:
    where = os.path.relpath(written.directory, cwd)
    helper = written.helper
    earlier = ", ".join(sorted(f"hotgo {o.version} (helper {o.digest})" for o in written.previous
                               if o.digest != helper.digest))
    lines = [f"wrote the Go helper of hotgo {__version__} (helper {helper.digest}) to {where}: "
             f"{len(helper.files)} files" + (f", replacing the copy from {earlier}" if earlier else "")
             + (f", removed {', '.join(written.removed)}" if written.removed else ""),
             f'  import:  import hotgo "{written.import_path}"',
             "  call:    hotgo.ListenAndServe(addr, handler)   // instead of http.ListenAndServe(addr, handler)",
             "  run:     hotgo run ./cmd/yours --listen :8080  // the package with main, the address it serves"]
    if _older_go(written.go_version, helper.go_version):
        lines.append(f"  note:    the helper needs go {helper.go_version} or later, and {written.root / 'go.mod'} says "
                     f"go {written.go_version}: run `go mod edit -go={helper.go_version}`")
    return lines


def _older_go(module: str, needed: str) -> bool:
    def numbers(version: str) -> List[int]:
        return [int(part) for part in version.split(".") if part.isdigit()]
    return bool(module and needed) and numbers(module) < numbers(needed)


def control_command(command: str, as_json: bool, service: str = "") -> int:
    """hotgo status / reload / rollback / stop [NAME]: ask the hotgo running for this project."""
    root = run_plan.project_root(app.current_directory())
    state_dir = root / ".hotgo"
    reply = request(state_dir, command, service=service)
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
    if command == "stop" and reply.get("pid"):  # `hotgo stop NAME` stops one service: hotgo stays
        return _wait_for_exit(int(reply["pid"]))
    return 0


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
