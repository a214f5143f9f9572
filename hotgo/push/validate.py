"""Check a service config file before it is pushed: a bad file never reaches the service.

`auto` parses by extension (.toml, .json, .env, .yaml/.yml); a command
(`./bin/api -check-config {file}`) runs without a shell, `{file}` and
`{binary}` (the serving build) substituted. A command's rejection is told in
its few error lines (hotgo.push.validator_errors); the whole output is kept.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from hotgo.errors import UsageError
from hotgo.push.validator_errors import brief
from hotgo.settings import env_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str = ""  # file:line: what is wrong, or a note such as "not validated"
    incomplete: bool = False  # empty file: the writer may still be busy
    output: str = ""  # a validate command's whole output (stderr, then stdout)
    hidden_lines: int = 0  # output lines the message leaves out


def check_file(path: Path, command: Optional[List[str]], binary: Optional[Path], cwd: Path) -> Verdict:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return Verdict(False, f"{path}: the file was removed")
    except OSError as err:
        return Verdict(False, f"{path}: cannot read: {err.strerror}")
    if not data.strip():
        return Verdict(False, f"{path}: the file is empty", incomplete=True)
    if command:
        return _run_command(path, command, binary, cwd)
    return _parse(path, data)


def _parse(path: Path, data: bytes) -> Verdict:
    suffix = path.suffix.lower()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        return Verdict(False, f"{path}: not UTF-8 ({err.reason} at byte {err.start})")
    if suffix == ".json":
        try:
            json.loads(text)
        except json.JSONDecodeError as err:
            return Verdict(False, f"{path}:{err.lineno}:{err.colno}: {err.msg}")
    elif suffix == ".toml":
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            return Verdict(False, f"{path}: {err}")
    elif suffix == ".env":
        try:
            env_file.parse(text, str(path))
        except UsageError as err:
            return Verdict(False, str(err))
    elif suffix in (".yaml", ".yml"):
        return _parse_yaml(path, text)
    else:
        return Verdict(True, f"{path.name}: no parser for {suffix or 'files without extension'}, not validated")
    return Verdict(True)


def _parse_yaml(path: Path, text: str) -> Verdict:
    import yaml  # here: its import costs every start of hotgo ~15 ms, and few services read YAML

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader where PyYAML has libyaml: faster
    try:
        for _document in yaml.load_all(text, Loader=loader):  # `---` separated files are common
            pass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        context = getattr(err, "context", None)
        if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
            problem += " (a tab: YAML indents with spaces)"  # the C loader does not name the character
        return Verdict(False, f"{path}{where}: {problem}" + (f" ({context})" if context else ""))
    return Verdict(True)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.splitlines()
    return lines[line][column:column + 1] if line < len(lines) else ""


def _run_command(path: Path, command: List[str], binary: Optional[Path], cwd: Path) -> Verdict:
    argv = [word.replace("{file}", str(path)).replace("{binary}", str(binary or "")) for word in command]
    try:
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL, errors="replace")
    except FileNotFoundError:
        return Verdict(False, f"validate command not found: {argv[0]}")
    except subprocess.TimeoutExpired:
        return Verdict(False, f"validate command {shlex.join(argv)} took more than 30s")
    output = result.stderr + ("\n" if result.stderr and not result.stderr.endswith("\n") else "") + result.stdout
    if result.returncode == 0:
        return Verdict(True, output=output)
    summary = brief(result.stderr, result.stdout)
    message = f"{path}: rejected by {Path(argv[0]).name} (exit {result.returncode})"
    if summary.lines:
        message += ": " + " | ".join(summary.lines)
    return Verdict(False, message, output=output, hidden_lines=summary.hidden)
