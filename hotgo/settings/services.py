"""`[services.NAME]` tables: several services in one hotgo, each a full set of settings.

A service table holds the keys of [build] and [run] flat (`package`, `listen`, `args`, `env`, ...;
the build's environment is `build_env`, since `env` is the service's own), and sub-tables
`[services.NAME.config]` and `[services.NAME.browser]` like [config] and [browser]. The top-level
[build]/[run]/[config]/[browser] keys are defaults for every service, except those that name one
service's own things (its package, binary, ports, config files, browser address): those must sit
in its table, where no two services can be given the same by accident.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Tuple

from hotgo.errors import shown, shown_name
from hotgo.settings.schema import SETTINGS, Setting, Value

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}")
NAME_RULE = "letters, digits, '-' and '_', starting with a letter or digit, at most 32 characters"

# Keys of a service table: (sub-table or "", key) -> the setting it sets.
_FLAT_SECTIONS = ("build", "run")
_SUB_TABLES = ("config", "browser", "front")
SERVICE_KEYS: Dict[Tuple[str, str], Setting] = {}
for _setting in SETTINGS:
    if _setting.section in _FLAT_SECTIONS:
        _key = "build_env" if (_setting.section, _setting.key) == ("build", "env") else _setting.key
        SERVICE_KEYS[("", _key)] = _setting
    elif _setting.section in _SUB_TABLES:
        SERVICE_KEYS[(_setting.section, _setting.key)] = _setting

# Set per service only: the same value for two services is a clash (a port, a file, a binary).
OWN_KEYS = ("build_package", "run_binary", "run_listen", "config_files", "browser_listen", "front_listen")


@dataclass(frozen=True)
class ServiceValues:
    """One `[services.NAME]` table: values keyed like Settings fields, and where each was set."""

    name: str
    values: Dict[str, Value]
    locations: Dict[str, str]
    line: int  # the table's header line


def check_name(name: str, where: str) -> None:
    if not NAME.fullmatch(name):
        raise ValueError(f"{where}: service name {shown(name, 40)} is not valid ({NAME_RULE}); "
                         "it names the service in logs, `hotgo reload NAME` and file names")


def _suggest(table: str, key: str) -> str:
    here = [k for (t, k) in SERVICE_KEYS if t == table]
    close = difflib.get_close_matches(key, here, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    if not table and key in _SUB_TABLES:
        return f"; write it as a table: [services.NAME.{key}]"
    if not table and key == "watch":
        return "; [watch] is one for all services: set it at the top level"
    return f"; keys here: {', '.join(here)}"


def parse_service(name: str, table: object, file: str, lines: Mapping[Tuple[str, ...], int]) -> ServiceValues:
    """A `[services.NAME]` table checked key by key; ValueError says file:line and the fix."""
    header = lines.get(("services", name), 0)
    where = f"{file}:{header or '?'}: [services.{shown_name(name, 40)}]"
    check_name(name, f"{file}:{header or '?'}")
    if not isinstance(table, dict):
        raise ValueError(f"{where}: must be a table: write [services.{name}] on its own line")
    values: Dict[str, Value] = {}
    locations: Dict[str, str] = {}
    for key, raw in table.items():
        if key in _SUB_TABLES and isinstance(raw, dict):
            items: List[Tuple[str, str, object]] = [(key, sub, value) for sub, value in raw.items()]
        else:
            items = [("", key, raw)]
        for sub_table, sub_key, value in items:
            path = ("services", name) + ((sub_table,) if sub_table else ()) + (sub_key,)
            line = lines.get(path, header or "?")
            shown_key = f"{sub_table}.{sub_key}" if sub_table else sub_key
            setting = SERVICE_KEYS.get((sub_table, sub_key))
            if setting is None:
                raise ValueError(f"{file}:{line}: [services.{name}] {shown_name(shown_key, 60)}: unknown key"
                                 f"{_suggest(sub_table, sub_key)}")
            locations[setting.dest] = f"{file}:{line}: [services.{name}] {shown_key}"
            values[setting.dest] = checked(setting, value, locations[setting.dest])
    return ServiceValues(name, values, locations, header)


def checked(setting: Setting, raw: object, location: str) -> Value:
    """`raw` parsed by its setting; ValueError starts with where it was set ("file:line: [section] key")."""
    try:
        return setting.parse(raw)
    except ValueError as err:
        raise ValueError(f"{location}: {err}") from None


def check_defaults(locations: Mapping[str, str]) -> None:
    """With [services.*], a top-level key that names one service's own things is refused."""
    for dest in OWN_KEYS:
        if dest in locations:
            raise ValueError(f"{locations[dest]}: with [services.NAME] tables this belongs to one service: "
                             "move it into the table of the service it is for")


def check_clashes(services: List[ServiceValues]) -> None:
    """Two services given the same port, binary or config file: refused, naming both lines."""
    seen: Dict[Tuple[str, str], str] = {}
    for service in services:
        for dest in OWN_KEYS:
            value = service.values.get(dest)
            if dest == "build_package" or not value:  # one package may well run twice (other args)
                continue
            items = value if isinstance(value, (list, tuple)) else [value]
            for item in items:
                if getattr(item, "port", None) == 0:  # a port the OS picks: never the same twice
                    continue
                token = (dest, _clash_key(item))
                if token in seen:
                    raise ValueError(f"{service.locations[dest]}: {item} is also given at {seen[token]}; "
                                     "each service needs its own")
                seen[token] = service.locations[dest]


def _clash_key(item: object) -> str:
    port = getattr(item, "port", None)
    return f"port {port}" if port is not None else str(item)
