"""hotgo.toml: read it, check every key against hotgo.settings.schema, report file:line:key.

tomllib does not say where a key is, so a small line scan finds the line of
each `[section]` key for the messages; TOML parsing itself is tomllib's.
"""

from __future__ import annotations

import difflib
import errno
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Tuple

from hotgo.errors import UsageError, shown_name
from hotgo.settings import utf8
from hotgo.settings.schema import SETTINGS, Setting, Value
from hotgo.settings.services import ServiceValues, check_clashes, check_defaults, checked, parse_service

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python < 3.11 only
    import tomli as tomllib

CONFIG_NAME = "hotgo.toml"
SECTIONS = tuple(dict.fromkeys(s.section for s in SETTINGS))
TOP_LEVEL = (*SECTIONS, "services", "generate")
_BY_KEY: Dict[Tuple[str, str], Setting] = {(s.section, s.key): s for s in SETTINGS}

_HEADER = re.compile(r"^\s*\[\s*([A-Za-z0-9_.\"' -]+?)\s*\]\s*(?:#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")
_DECODE_AT = re.compile(r"\(at line (\d+), column (\d+)\)")


def _unquote(part: str) -> str:
    part = part.strip()
    return part[1:-1] if part[:1] in "\"'" and part[-1:] == part[:1] else part


def key_lines(text: str) -> Dict[Tuple[str, ...], int]:
    """Line number (1-based) of every key and table header, as a path of names."""
    found: Dict[Tuple[str, ...], int] = {}
    table: Tuple[str, ...] = ()
    in_multiline = False
    for number, line in enumerate(text.split("\n"), 1):
        if line.count('"""') % 2 or line.count("'''") % 2:
            in_multiline = not in_multiline
            if not in_multiline:
                continue
        if in_multiline and not _KEY.match(line):
            continue
        header = _HEADER.match(line)
        if header and not line.lstrip().startswith("[["):
            table = tuple(_unquote(p) for p in header.group(1).split("."))
            found.setdefault(table, number)
            continue
        if line.lstrip().startswith("[["):  # an array of tables ([[generate]]): its keys are its own
            table = ("[[array]]",)
            continue
        key = _KEY.match(line)
        if key:
            path = table + tuple(_unquote(p) for p in key.group(1).split("."))
            found.setdefault(path, number)
    return found


def _suggest(section: str, key: str) -> str:
    here = [s.key for s in SETTINGS if s.section == section]
    close = difflib.get_close_matches(key, here, n=1, cutoff=0.6)
    if close:
        return f"; did you mean `{close[0]}`?"
    for other in SECTIONS:
        if other != section and (other, key) in _BY_KEY:
            return f"; `{key}` belongs in [{other}]"
    return f"; keys of [{section}]: {', '.join(here)}"


@dataclass(frozen=True)
class SettingsFile:
    """What a hotgo.toml says: its top-level values keyed like Settings fields (e.g.
    run_drain_timeout), where each was set ("file:line: [section] key") for later messages, and
    its `[services.NAME]` tables (none: the file describes one service)."""

    values: Dict[str, Value] = field(default_factory=dict)
    locations: Dict[str, str] = field(default_factory=dict)
    services: List[ServiceValues] = field(default_factory=list)
    # `[[generate]]` as tomllib gives it, and the file's text (for its lines): checked by
    # hotgo/generate/steps.py, a stage above the settings
    generate: object = None
    text: str = ""


def load(path: Path) -> Tuple[Dict[str, Value], Dict[str, str]]:
    """The top-level values of a hotgo.toml and where each was set (see SettingsFile)."""
    loaded = load_file(path)
    return loaded.values, loaded.locations


def load_file(path: Path) -> SettingsFile:
    """A hotgo.toml read and checked; UsageError names the file, line and fix."""
    name = shown_name(str(path))  # a line break in the name does not break the message's line
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        if path.is_symlink():
            target = shown_name(os.readlink(path))
            raise UsageError(f"{name}: a symlink to nothing ({target}); fix or remove the link") from None
        raise UsageError(f"{name}: config file not found") from None
    except IsADirectoryError:
        raise UsageError(f"{name}: is a directory, not a settings file; remove it or name a file with "
                         "--config FILE") from None
    except OSError as err:
        if err.errno == errno.ELOOP:
            raise UsageError(f"{name}: a symlink loop; fix or remove the link") from None
        raise UsageError(f"{name}: cannot read config file: {err.strerror or err}; fix its permissions") from None
    text = utf8.decode(content, name)  # a BOM an editor wrote before the text is skipped
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        message = str(err)
        at = _DECODE_AT.search(message)
        line = at.group(1) if at else str(text.count("\n") + 1)  # "at end of document"
        reason = _DECODE_AT.sub("", message).strip()
        raise UsageError(f"{name}:{line}: TOML syntax error: {reason}") from None
    lines = key_lines(text)
    values: Dict[str, Value] = {}
    locations: Dict[str, str] = {}
    services: List[ServiceValues] = []
    generate: object = None
    for section, table in data.items():
        where = f"{name}:{lines.get((section,), '?')}"
        if section == "services":
            services = _services(table, name, lines, where)
            continue
        if section == "generate":
            generate = table
            continue
        if section not in SECTIONS:
            close = difflib.get_close_matches(section, TOP_LEVEL, n=1, cutoff=0.6)
            hint = f"did you mean [{close[0]}]?" if close else f"sections are {', '.join(f'[{s}]' for s in TOP_LEVEL)}"
            raise UsageError(f"{where}: unknown section or top-level key `{shown_name(section, 60)}`; {hint}")
        if not isinstance(table, dict):
            raise UsageError(f"{where}: `{section}` must be a table: write [{section}] on its own line")
        for key, raw in table.items():
            line = lines.get((section, key), lines.get((section,), "?"))
            setting = _BY_KEY.get((section, key))
            if setting is None:
                raise UsageError(f"{name}:{line}: [{section}] {shown_name(key, 60)}: unknown key"
                                 f"{_suggest(section, key)}")
            locations[setting.dest] = f"{name}:{line}: [{section}] {key}"
            try:
                values[setting.dest] = checked(setting, raw, locations[setting.dest])
            except ValueError as err:
                raise UsageError(str(err)) from None
    if services:
        try:
            check_defaults(locations)
            check_clashes(services)
        except ValueError as err:
            raise UsageError(str(err)) from None
    return SettingsFile(values, locations, services, generate, text)


def _services(table: object, name: str, lines: Dict[Tuple[str, ...], int], where: str) -> List[ServiceValues]:
    if not isinstance(table, dict) or not table:
        raise UsageError(f"{where}: write one table per service: [services.api] with its package, listen, ...")
    try:
        return [parse_service(service, values, name, lines) for service, values in table.items()]
    except ValueError as err:
        raise UsageError(str(err)) from None
