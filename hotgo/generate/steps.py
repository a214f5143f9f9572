"""The `[[generate]]` entries of hotgo.toml: each a step with the files that trigger it and its command.

    [[generate]]
    watch = ["**/*.templ"]        # globs relative to the module root, as [watch] include takes them
    run = "templ generate"        # a command without a shell: a string split like a shell would, or a list
    dir = "web"                   # optional: where it runs, relative to the module root
    name = "templates"            # optional: how messages name it (default: the program's name)
    timeout = "2m"                # optional: killed after this long, and reported as failed

`parse_generate` checks what tomllib gives for the `generate` key and raises ValueError naming the fix;
`entry_lines` finds the line of each entry's keys, so the messages say file:line as toml_file.py's do.
"""

from __future__ import annotations

import difflib
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Callable, Dict, List, Optional, Tuple, TypeVar

from hotgo.errors import described, shown, shown_name
from hotgo.settings import limits
from hotgo.settings.durations import check_duration, parse_duration
from hotgo.watch.filters import glob_to_regex

SECTION = "generate"
KEYS = ("watch", "run", "dir", "name", "timeout")
DEFAULT_TIMEOUT = 120.0  # a generator that hangs is killed and shown as failed; the services keep serving
EXAMPLE = '[[generate]]\nwatch = ["**/*.templ"]\nrun = "templ generate"'

T = TypeVar("T")
_ENTRY = re.compile(r"^\s*\[\[\s*generate\s*\]\]\s*(?:#.*)?$")
_OTHER_TABLE = re.compile(r"^\s*\[")
_KEY = re.compile(r"""^\s*([A-Za-z0-9_-]+|"[^"]*"|'[^']*')\s*=""")


@dataclass(frozen=True)
class GenerateStep:
    """One generator: the files that trigger it, the argv it runs (no shell) and where."""

    index: int  # its place among the [[generate]] entries, from 1: how messages tell two steps apart
    watch: Tuple[str, ...]
    run: Tuple[str, ...]
    dir: str = ""  # relative to the module root, '/'-separated; "" is the root itself
    name: str = ""  # default: the program's file name ("templ")
    timeout: float = DEFAULT_TIMEOUT
    where: str = field(default="", compare=False)  # "hotgo.toml:12", for messages about it later

    def __post_init__(self) -> None:
        if not self.run:
            raise ValueError("a generate step needs a command")
        if not self.name:
            object.__setattr__(self, "name", program_name(self.run[0]))

    @property
    def label(self) -> str:
        """How the log names the step: `generate templ`."""
        return f"generate {self.name}"


def program_name(program: str) -> str:
    """`templ` for 'templ', './bin/gen' or 'C:\\tools\\gen.exe' alike."""
    name = PureWindowsPath(program).name if "\\" in program else PurePosixPath(program).name
    return name[:-4] if name.lower().endswith(".exe") else name or program


def entry_lines(text: str) -> Dict[Tuple[int, str], int]:
    """Line (1-based) of each `[[generate]]` header, keyed (entry, ""), and of each key in it, (entry, key)."""
    found: Dict[Tuple[int, str], int] = {}
    entry = 0
    inside = False
    for number, line in enumerate(text.split("\n"), 1):
        if _ENTRY.match(line):
            entry += 1
            inside = True
            found[(entry, "")] = number
        elif _OTHER_TABLE.match(line):
            inside = False
        elif inside:
            key = _KEY.match(line)
            if key:
                found.setdefault((entry, key.group(1).strip("\"'")), number)
    return found


def parse_generate(value: object, where: str, text: Optional[str] = None) -> List[GenerateStep]:
    """The steps of `generate = [...]` as tomllib gives it. `where` names the file; with the file's `text`
    each message also says the line. Raises ValueError: `file:line: [[generate]] #N key: what to do`."""
    if isinstance(value, dict):
        raise ValueError(f"{where}: [generate] must be written [[generate]] (two brackets): each entry is one "
                         f"step, e.g.\n{EXAMPLE}")
    if not isinstance(value, list):
        raise ValueError(f"{where}: `generate` must be [[generate]] entries, got {described(value)}; e.g.\n{EXAMPLE}")
    lines = entry_lines(text) if text is not None else {}
    steps = []
    for index, entry in enumerate(value, 1):
        def at(key: str, index: int = index) -> str:
            line = lines.get((index, key), lines.get((index, "")))
            return f"{where}:{line}" if line else where

        if not isinstance(entry, dict):
            raise ValueError(f"{at('')}: [[generate]] #{index}: expected a table of watch/run, "
                             f"got {described(entry)}; e.g.\n{EXAMPLE}")
        steps.append(_step(index, entry, at))
    return steps


def _step(index: int, entry: Dict[str, object], at: Callable[[str], str]) -> GenerateStep:
    label = f"[[generate]] #{index}"
    for key in entry:
        if key not in KEYS:
            close = difflib.get_close_matches(key, KEYS, n=1, cutoff=0.6)
            hint = f"did you mean `{close[0]}`?" if close else f"the keys of [[generate]] are {', '.join(KEYS)}"
            raise ValueError(f"{at(key)}: {label} {shown_name(key, 60)}: unknown key; {hint}")
    for key in ("watch", "run"):
        if key not in entry:
            raise ValueError(f"{at('')}: {label}: `{key}` is missing; each step needs `watch` (the files that "
                             f"trigger it) and `run` (its command), e.g.\n{EXAMPLE}")

    def checked(key: str, check: Callable[[object], T], default: T) -> T:
        if key not in entry:
            return default
        try:
            limits.check_strings(entry[key])  # no NUL byte, no argument longer than the OS takes
            return check(entry[key])
        except ValueError as err:
            raise ValueError(f"{at(key)}: {label} {key}: {err}") from None

    return GenerateStep(index, checked("watch", _watch, ()), checked("run", _run, ()), checked("dir", _dir, ""),
                        checked("name", _name, ""), checked("timeout", _timeout, DEFAULT_TIMEOUT), where=at(""))


def _watch(value: object) -> Tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"expected a list of globs, got {described(value)}; e.g. [\"**/*.templ\"]")
    if not value:
        raise ValueError("empty: list the files that trigger the step, e.g. [\"**/*.templ\"] or [\"query.sql\"]")
    for pattern in value:
        if not pattern.strip():
            raise ValueError("an empty glob; name files, e.g. \"**/*.proto\"")
        if pattern.endswith("/"):
            raise ValueError(f"{shown(pattern)} names a directory; name the files in it, e.g. "
                             f"\"{pattern}**/*.proto\"")
        if ".." in pattern.replace("\\", "/").split("/"):
            raise ValueError(f"{shown(pattern)}: globs are relative to the module root and stay below it; "
                             "remove the '..'")
        glob_to_regex(pattern)  # raises ValueError naming what is wrong with it
    return tuple(value)


def _run(value: object) -> Tuple[str, ...]:
    if isinstance(value, str):
        try:
            words = shlex.split(value)
        except ValueError as err:
            raise ValueError(f"cannot split {shown(value)} into words: {err}") from None
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        words = list(value)
    else:
        raise ValueError(f"expected a command, as a string or a list of words, got {described(value)}")
    if not words or not words[0]:
        raise ValueError("empty: write the command, e.g. \"templ generate\" or \"sqlc generate\"")
    return tuple(words)


def _dir(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a directory relative to the module root, got {described(value)}")
    text = value.replace("\\", "/")
    if text.startswith("/") or PureWindowsPath(value).drive:
        raise ValueError(f"{shown(value)} is absolute; give the directory relative to the module root")
    normal = posixpath.normpath(text) if text else "."
    if normal == ".." or normal.startswith("../"):
        raise ValueError(f"{shown(value)} leaves the module root; steps run inside the module")
    return "" if normal == "." else limits.path(normal)


def _name(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"expected a name for the messages, e.g. \"templates\", got {described(value)}")
    return value.strip()


def _timeout(value: object) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return check_duration(float(value), value, positive=True)
    if isinstance(value, str):
        return check_duration(parse_duration(value), value, positive=True)  # '0s' would kill every run
    raise ValueError(f"expected a duration such as \"2m\", got {described(value)}")
