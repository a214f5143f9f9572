"""Every setting hotgo has, declared once: name, type, default, help.

The flag parser is derived from these declarations; values are parsed and
checked here, so a bad value is reported the same way wherever it came from.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple, Union

from hotgo import platform
from hotgo.choices import SocketMode
from hotgo.errors import UsageError, described, shown
from hotgo.settings import limits
from hotgo.settings.addresses import ListenAddress, parse_listen
from hotgo.settings.durations import MAX_DURATION as MAX_DURATION  # re-exported: the declarations' module
from hotgo.settings.durations import check_duration
from hotgo.settings.durations import format_duration as format_duration
from hotgo.settings.durations import parse_duration as parse_duration
from hotgo.settings.push_method import parse_push
from hotgo.settings.signal_names import parse_signal

Value = Union[
    str, int, float, bool, List[str], Dict[str, str], ListenAddress, Tuple[ListenAddress, ...]
]

SOCKET_MODES = tuple(mode.value for mode in SocketMode)
_READY_FORMS = "'auto', 'notify', 'http:/healthz', 'delay:300ms'"
_URL_PATH = re.compile(r"[!-~]*", re.ASCII)  # what an HTTP request line carries as it is


def parse_ready(text: str) -> str:
    value = text.strip()
    if value in ("auto", "notify"):
        return value
    if value.startswith("http:"):
        path = value[5:]
        if not path.startswith("/"):
            raise ValueError(f"ready {shown(text)}: the probe path must start with '/', e.g. 'http:/healthz'")
        if not _URL_PATH.fullmatch(path):
            raise ValueError(f"ready {shown(text)}: the probe path goes into an HTTP request line: printable ASCII "
                             "without spaces; percent-encode the rest (a space is %20)")
        return value
    if value.startswith("delay:"):
        parse_duration(value[6:])
        return value
    raise ValueError(f"ready {shown(text)} is not one of {_READY_FORMS}")


@dataclass(frozen=True)
class Setting:
    """One setting: where it lives in hotgo.toml, its flag, default and help.

    `convert` takes a value as TOML gives it (str, int, list, table...) or as a
    flag gives it (str, or a list of str for repeatable flags) and returns the
    checked value, or raises ValueError saying what is allowed.
    """

    section: str
    key: str
    default: Value
    help: str
    convert: Callable[[object], Value]
    flag: Optional[str] = None  # long option, e.g. "--listen"
    repeat: bool = False  # flag may be given several times
    metavar: str = "VALUE"

    def parse(self, raw: object) -> Value:
        """`raw` checked and converted: no string in it reaches the OS unchecked (a NUL byte, a value
        longer than a process argument), then `convert`. Raises ValueError saying what is allowed."""
        limits.check_strings(raw)
        return self.convert(raw)

    @property
    def dest(self) -> str:
        return f"{self.section}_{self.key}"

    @property
    def is_switch(self) -> bool:
        return self.convert is _bool


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {described(value)}")
    return value


MAX_KEEP = 1000


def _keep(value: object) -> int:
    """How many builds stay: at least 1 (the running one is always kept)."""
    return limits.whole_number(value, 1, MAX_KEEP, "keep = 3")


def _package(value: object) -> str:
    """A Go package or pattern as `go build` takes it: a path, so every name in it fits a file name."""
    text = _text(value)
    if not text.strip():
        raise ValueError("empty: write the package to build, e.g. '.' or './cmd/api'")
    if text.startswith("-"):
        raise ValueError(f"{shown(text)} would be read as a flag of `go build`; write the package, e.g. './cmd/api'")
    control = next((char for char in text if unicodedata.category(char) in ("Cc", "Zl", "Zp")), "")
    if control:
        raise ValueError(f"{shown(text)} holds U+{ord(control):04X}, which no Go package path holds; remove it")
    return limits.path(text)


def _path(value: object) -> str:
    """A file path ('' = not set)."""
    return limits.path(_text(value))


def _paths(value: object) -> List[str]:
    return [limits.path(item) for item in _strings(value)]


def _bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
    raise ValueError(f"expected true or false, got {described(value)}")


def _duration(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return check_duration(float(value), value)
    return parse_duration(_text(value))


def _timeout(value: object) -> float:
    """A duration that must be more than 0: a timeout of 0 kills every generation at once."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return check_duration(float(value), value, positive=True)
    return check_duration(parse_duration(_text(value)), value, positive=True)


def _strings(value: object) -> List[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of strings, got {described(value)}")
    return list(value)


def _words(value: object) -> List[str]:
    """A command-line-like string ('-tags dev -race') or a list of words."""
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as err:
            raise ValueError(f"cannot split {shown(value)} into words: {err}") from None
    return _strings(value)


def _globs(value: object) -> List[str]:
    from hotgo.watch.filters import glob_to_regex

    patterns = _strings(value)
    for pattern in patterns:
        glob_to_regex(pattern)
    return patterns


def _env(value: object) -> Dict[str, str]:
    if not isinstance(value, dict):
        raise ValueError(f"expected a table of NAME = \"value\", got {described(value)}")
    env: Dict[str, str] = {}
    for name, item in value.items():
        limits.env_name(name)
        if isinstance(item, bool):
            env[name] = "true" if item else "false"
        elif isinstance(item, (str, int, float)):
            env[name] = str(item)
        else:
            raise ValueError(f"{shown(name)}: expected a string, got {type(item).__name__}")
        try:
            limits.env_entry(name, env[name])
        except ValueError as err:
            raise ValueError(f"{shown(name)}: {err}") from None
    return env


def listen_list(value: object) -> Tuple[ListenAddress, ...]:
    try:
        addresses = tuple(parse_listen(text) for text in _strings(value))
    except UsageError as err:
        raise ValueError(str(err)) from None
    seen = set()
    for address in addresses:
        if address.port and (address.host, address.port) in seen:
            raise ValueError(f"{address} is listed twice; give each address once")
        seen.add((address.host, address.port))
    return addresses


def _socket_mode(value: object) -> str:
    text = _text(value)
    if text not in SOCKET_MODES:
        raise ValueError(f"{shown(text)} is not one of {', '.join(SOCKET_MODES)}")
    return text


def _ready(value: object) -> str:
    return parse_ready(_text(value))


def _signal(value: object) -> str:
    return parse_signal(_text(value))


def _profile(value: object) -> str:
    from hotgo.settings.profiles import parse_profile

    return parse_profile(_text(value))


def _push(value: object) -> str:
    text = _text(value)
    parse_push(text)
    return text


def _proxy_address(value: object) -> str:
    text = _text(value).strip()
    if text:
        listen_list(text)  # the same forms as listen, checked now
    return text


def _validate_command(value: object) -> List[str]:
    """'auto' (parse by extension) -> []; else a command as words, run without a shell."""
    if value == "auto":
        return []
    words = _words(value)
    if not words:
        raise ValueError("expected 'auto' or a command such as \"./bin/api -check-config {file}\"")
    return words


DEFAULT_INCLUDE = ["**/*.go", "go.mod", "go.sum", "go.work", "go.work.sum"]
DEFAULT_EXCLUDE = [
    ".git/", ".hg/", ".svn/", ".hotgo/", "vendor/", "testdata/", "node_modules/",
    ".idea/", ".vscode/", "**/*_test.go",
]
# A config push: SIGHUP where there are signals, else (Windows) an HTTP request to the service.
DEFAULT_CONFIG_PUSH = ("signal:SIGHUP" if platform.CAPABILITIES.signals
                       else "http:POST http://127.0.0.1:{port}/-/reload")

SETTINGS: Tuple[Setting, ...] = (
    Setting("build", "package", ".", "Go package to build, as `go build` takes it (also the PKG argument).",
            _package, metavar="PKG"),
    Setting("build", "profile", "dev", "dev (fast rebuilds: no DWARF/symbol table, no VCS stamping; panics still "
            "print full stack traces), debug (DWARF, -gcflags=all=-N -l, for dlv attach), plain (your flags only).",
            _profile, "--profile", metavar="NAME"),
    Setting("build", "flags", [], "Extra `go build` flags, e.g. \"-tags dev -race\" or a list.",
            _words, "--build-flags", metavar="'FLAGS'"),
    Setting("build", "env", {}, "Environment added to `go build`, e.g. { CGO_ENABLED = \"0\" }.", _env),
    Setting("build", "keep", 3, f"Builds kept in .hotgo/bin (the running one is always kept), 1..{MAX_KEEP}.",
            _keep),
    Setting("run", "binary", "", "Artifact mode: run this prebuilt binary (a path or a `current` symlink) and "
            "hand off whenever it changes; nothing is built.", _path, "--binary", metavar="PATH"),
    Setting("run", "args", [], "Arguments for the service (also after `--` on the command line).", _strings),
    Setting("run", "env", {}, "Environment added to the service (values are never logged).", _env),
    Setting("run", "env_file", "", "A dotenv file (KEY=value lines) added to the service's environment; "
            "`env` wins over it.", _path, "--env-file", metavar="FILE"),
    Setting("run", "listen", (), "Addresses hotgo shares across generations: \":8080\", \"127.0.0.1:8080\", "
            "\"[::1]:9000\", \"name=:8080\".", listen_list, "--listen", repeat=True, metavar="ADDR"),
    Setting("run", "socket", "auto", "inherit (hotgo binds, every generation inherits the socket), reuseport "
            "(the service binds with SO_REUSEPORT), none (stop then start: downtime); "
            "auto = inherit with listen (reuseport on Windows), else none.", _socket_mode, "--socket", metavar="MODE"),
    Setting("run", "ready", "auto", f"When a new process counts as ready: {_READY_FORMS}.",
            _ready, "--ready", metavar="HOW"),
    Setting("run", "ready_timeout", 15.0, "A new process not ready by then is killed; the old one keeps serving.",
            _timeout, "--ready-timeout", metavar="DUR"),
    Setting("run", "drain_timeout", 10.0, "Time an old process gets to finish its requests before it is killed.",
            _timeout, "--drain-timeout", metavar="DUR"),
    Setting("run", "stop_signal", "SIGTERM", "Signal that asks a process to drain and stop.",
            _signal, "--stop-signal", metavar="SIG"),
    Setting("watch", "paths", [], "Extra directories to watch besides the module root.", _paths),
    Setting("watch", "include", DEFAULT_INCLUDE, "Files whose change rebuilds (globs; ** spans directories).",
            _globs),
    Setting("watch", "exclude", DEFAULT_EXCLUDE, "Files and directories (trailing /) never watched.", _globs),
    Setting("watch", "settle", 0.05, "Quiet time that ends a burst of changes (a closed write after a quiet spell "
            "builds at once; the rest of that save and storms wait for it): one save = one served build.",
            _duration, "--settle", metavar="DUR"),
    Setting("watch", "max_wait", 2.0, "Build at the latest this long after the first change of a burst "
            "that never goes quiet.", _duration, "--max-wait", metavar="DUR"),
    Setting("watch", "poll", False, "Poll instead of OS events (WSL2 /mnt, Docker Desktop mounts, NFS).",
            _bool, "--poll"),
    Setting("config", "files", [], "Globs of the service's own config files: a change to only these is "
            "checked and pushed to the running process, no rebuild.", _globs),
    Setting("config", "push", DEFAULT_CONFIG_PUSH,
            "How to tell the service: signal:SIGHUP (any signal), http:POST URL ({port} = first listen port; "
            "2xx = success), restart (zero-downtime handoff), none.", _push),
    Setting("config", "validate", "auto", "Check before pushing: auto (parse .toml/.json/.env/.yaml/.yml by "
            "extension) or a command run without a shell, e.g. \"{binary} -check-config {file}\".",
            _validate_command),
    Setting("config", "ack_timeout", 5.0, "How long to wait for the service's notify-reload answer "
            "(RELOADING=1 … READY=1), and for a late one after an `unconfirmed` report (it amends the report); "
            "a service that never spoke sd_notify is not waited for.", _timeout),
    Setting("config", "min_interval", 0.5, "Minimum time between two pushes; changes meanwhile are "
            "coalesced (the latest wins).", _duration),
    Setting("browser", "listen", "", "Live-reload proxy in front of the first listen address, e.g. "
            "\"127.0.0.1:3000\": pages opened there reload once a new generation serves and show build errors; "
            "empty = off.", _proxy_address, "--browser", metavar="ADDR"),
    Setting("browser", "reload_on_config", False, "Also reload those pages after a config push (off: a pushed "
            "config changes no page by itself).", _bool),
    Setting("front", "listen", "", "Front door in front of the first listen address, e.g. \"127.0.0.1:3000\": "
            "a small Go proxy (built once with your go) that holds requests while no generation accepts (up to "
            "ready_timeout + drain_timeout), lets the old one answer what it has first, and resends only a "
            "request it never received; empty = off.", _proxy_address,
            "--front", metavar="ADDR"),
)


@dataclass(frozen=True)
class Settings:
    """The resolved settings of one `hotgo run`."""

    build_package: str = "."
    build_profile: str = "dev"
    build_flags: List[str] = field(default_factory=list)
    build_env: Dict[str, str] = field(default_factory=dict)
    build_keep: int = 3
    run_binary: str = ""
    run_args: List[str] = field(default_factory=list)
    run_env: Dict[str, str] = field(default_factory=dict)
    run_env_file: str = ""
    run_listen: Tuple[ListenAddress, ...] = ()
    run_socket: str = "auto"
    run_ready: str = "auto"
    run_ready_timeout: float = 15.0
    run_drain_timeout: float = 10.0
    run_stop_signal: str = "SIGTERM"
    watch_paths: List[str] = field(default_factory=list)
    watch_include: List[str] = field(default_factory=lambda: list(DEFAULT_INCLUDE))
    watch_exclude: List[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    watch_settle: float = 0.05
    watch_max_wait: float = 2.0
    watch_poll: bool = False
    config_files: List[str] = field(default_factory=list)
    config_push: str = DEFAULT_CONFIG_PUSH
    config_validate: List[str] = field(default_factory=list)
    config_ack_timeout: float = 5.0
    config_min_interval: float = 0.5
    browser_listen: str = ""
    browser_reload_on_config: bool = False
    front_listen: str = ""

    @property
    def socket_mode(self) -> SocketMode:
        if self.run_socket != SocketMode.AUTO:
            return SocketMode(self.run_socket)
        return SocketMode(platform.DEFAULT_SOCKET_MODE) if self.run_listen else SocketMode.NONE


def resolve(values: Dict[str, Value], where: Optional[Dict[str, str]] = None) -> Settings:
    """Build Settings from parsed values (dest -> value), checking cross-setting rules.

    `where` says where a value was set ("hotgo.toml:4: [run] socket" or "--socket"),
    so that a message names the line to fix."""
    known = {s.dest for s in SETTINGS}
    unknown = set(values) - known
    if unknown:
        raise UsageError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    settings = Settings(**values)  # type: ignore[arg-type]

    def at(dest: str, fallback: str) -> str:
        return (where or {}).get(dest, fallback)

    if settings.socket_mode in ("inherit", "reuseport") and not settings.run_listen:
        raise UsageError(
            f"{at('run_socket', 'socket')}: {settings.socket_mode!r} needs at least one listen address; "
            "add listen = [\"127.0.0.1:8080\"] to [run] or --listen 127.0.0.1:8080"
        )
    if not platform.CAPABILITIES.fd_inheritance and settings.socket_mode == "inherit":
        raise UsageError("socket = 'inherit' needs POSIX descriptor passing; on Windows use 'reuseport' "
                         "(the service binds with SO_REUSEADDR, as the Go helper does)")
    if not platform.CAPABILITIES.signals and settings.config_push.startswith("signal:"):
        raise UsageError("config.push: Windows has no signals; use 'http:POST http://127.0.0.1:{port}/-/reload' "
                         "(the default there) or 'restart'")
    if not platform.CAPABILITIES.notify_socket and settings.run_ready == "notify":
        raise UsageError("ready = 'notify' needs NOTIFY_SOCKET, which hotgo does not provide on Windows; "
                         "use 'auto' (an HTTP probe there) or 'http:/healthz'")
    for proxy, given in (("browser", settings.browser_listen), ("front", settings.front_listen)):
        if given and not settings.run_listen:
            raise UsageError(f"--{proxy} ([{proxy}] listen) stands in front of the service's shared port: "
                             "add --listen 127.0.0.1:8080 ([run] listen) too")
    return settings
