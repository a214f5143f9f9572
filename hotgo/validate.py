"""Check a service config file before it is pushed (DESIGN §2: a bad file never reaches the service).

`auto` parses by extension (.toml, .json, .env, .yaml/.yml when a YAML parser
is installed); a command (`./bin/api -check-config {file}`) runs without a
shell, `{file}` and `{binary}` (the serving build) substituted.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from hotgo import envfile
from hotgo.errors import UsageError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Verdict:
    ok: bool
    message: str = ""  # file:line: what is wrong, or a note such as "not validated"
    incomplete: bool = False  # empty file: the writer may still be busy


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
            envfile.parse(text, str(path))
        except UsageError as err:
            return Verdict(False, str(err))
    elif suffix in (".yaml", ".yml"):
        return _parse_yaml(path, text)
    else:
        return Verdict(True, f"{path.name}: no parser for {suffix or 'files without extension'}, not validated")
    return Verdict(True)


def _parse_yaml(path: Path, text: str) -> Verdict:
    try:
        import yaml  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return Verdict(True, f"{path.name}: not validated (install PyYAML to check YAML before pushing)")
    try:
        yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}:{mark.column + 1}" if mark is not None else ""
        return Verdict(False, f"{path}{where}: {getattr(err, 'problem', None) or err}")
    return Verdict(True)


def _run_command(path: Path, command: List[str], binary: Optional[Path], cwd: Path) -> Verdict:
    argv = [word.replace("{file}", str(path)).replace("{binary}", str(binary or "")) for word in command]
    try:
        result = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=30,
                                stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        return Verdict(False, f"validate command not found: {argv[0]}")
    except subprocess.TimeoutExpired:
        return Verdict(False, f"validate command {shlex.join(argv)} took more than 30s")
    output = " ".join((result.stdout + result.stderr).split())
    if result.returncode != 0:
        return Verdict(False, output or f"{shlex.join(argv)} exited {result.returncode}")
    return Verdict(True)
