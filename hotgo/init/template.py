"""`hotgo init`: a commented hotgo.toml a user can read top to bottom, derived from hotgo.settings.schema."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from hotgo.build.constraints import directory_hint, never_built
from hotgo.errors import UsageError
from hotgo.init.config_section import propose_config
from hotgo.init.go_sources import shown
from hotgo.settings.addresses import ListenAddress
from hotgo.settings.schema import SETTINGS, Setting, Value, format_duration, listen_list
from hotgo.settings.toml_file import CONFIG_NAME, SECTIONS

_PACKAGE_MAIN = re.compile(r"^package\s+main\b", re.MULTILINE)
_ADDRESS_LITERAL = re.compile(r'"((?:localhost|\[[0-9a-fA-F:]+\]|[0-9.]*)?:\d{2,5})"')
_READS_PORT = re.compile(r'Getenv\(\s*"PORT"\s*\)')

_SECTION_HELP = {
    "build": "How hotgo builds the service (go build -o .hotgo/bin/<name>-<generation> PKG).",
    "run": "How each generation runs and how one hands over to the next.",
    "watch": "Which file changes rebuild (the module root is always watched).",
    "browser": "Pages open in a browser: reloaded when a new generation serves, build errors shown in them.",
}


def toml_literal(setting: Setting, value: Value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return json.dumps(format_duration(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items()) + " }" if value else "{}"
    if isinstance(value, ListenAddress):
        return json.dumps(_listen_text(value))
    items = [_listen_text(v) if isinstance(v, ListenAddress) else v for v in value]
    return "[" + ", ".join(json.dumps(item) for item in items) + "]"


def _listen_text(address: ListenAddress) -> str:
    text = str(address)
    return text if address.name == str(address.port) else f"{address.name}={text}"


def _has_main(directory: Path) -> bool:
    if never_built(directory):  # examples run with `go run FILE`: no package to build
        return False
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        try:
            if _PACKAGE_MAIN.search(path.read_text(encoding="utf-8", errors="replace")):
                return True
        except OSError:
            continue
    return False


def detect_packages(root: Path, cwd: Optional[Path] = None) -> List[str]:
    """Main packages: the directory `hotgo init` runs in, ./cmd/* (the usual layout), then the module root."""
    found = [f"./cmd/{d.name}" for d in sorted((root / "cmd").glob("*")) if d.is_dir() and _has_main(d)]
    if _has_main(root):
        found.append(".")
    if cwd is not None and cwd != root and cwd.is_relative_to(root) and _has_main(cwd):
        here = "./" + cwd.relative_to(root).as_posix()
        found = [here, *(package for package in found if package != here)]
    return found


def propose_listen(package_dir: Path) -> Tuple[Optional[str], str]:
    """An address the service listens on, read from its main package's source."""
    reads_port = False
    for path in sorted(package_dir.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        match = _ADDRESS_LITERAL.search(text)
        if match:
            return match.group(1), f"found \"{match.group(1)}\" in {path.name}"
        reads_port = reads_port or bool(_READS_PORT.search(text))
    if reads_port:
        return ":8080", "the service reads PORT, which hotgo sets to the first listen port"
    return None, ""


def render(proposals: Dict[str, Value], notes: Dict[str, str], commented: Optional[Dict[str, Value]] = None) -> str:
    """`commented`: a guess shown under its key as a commented-out line to enable."""
    out = [
        "# hotgo.toml — settings for `hotgo run`. Every key is shown with its default;",
        "# command-line flags override this file. Durations: \"250ms\", \"2s\". Globs: ** spans directories.",
        "",
    ]
    for section in SECTIONS:
        out += [f"[{section}]", f"# {_SECTION_HELP.get(section, '')}"]
        for setting in (s for s in SETTINGS if s.section == section):
            flag = f" (flag {setting.flag})" if setting.flag else ""
            out.append(f"# {setting.help}{flag}")
            if setting.dest in notes:
                out.append(f"# hotgo init: {notes[setting.dest]}")
            value = proposals.get(setting.dest, setting.default)
            out.append(f"{setting.key} = {toml_literal(setting, value)}")
            if commented and setting.dest in commented:
                out.append(f"# {setting.key} = {toml_literal(setting, commented[setting.dest])}")
        out.append("")
    return "\n".join(out)


def write(root: Path, force: bool, cwd: Optional[Path] = None) -> Tuple[Path, List[str]]:
    """Write hotgo.toml at the module root; return it and what was detected."""
    target = root / CONFIG_NAME
    if target.exists() and not force:
        raise UsageError(f"{target} already exists; use `hotgo init --force` to overwrite it")
    said: List[str] = []
    proposals: Dict[str, Value] = {}
    notes: Dict[str, str] = {}
    packages = detect_packages(root, cwd)
    hint = directory_hint(cwd) if cwd is not None and never_built(cwd) else None
    if cwd is not None and hint:
        notes["build_package"] = f"{shown(cwd, root)}: {hint}"
        said.append(f"not proposed: {shown(cwd, root)}: {hint}")
    if packages:
        proposals["build_package"] = packages[0]
        others = f" (also found: {', '.join(packages[1:])})" if len(packages) > 1 else ""
        notes["build_package"] = f"main package detected{others}" + (
            f"; {notes['build_package']}" if "build_package" in notes else "")
        said.append(f"main package: {packages[0]}{others}")
    package_dir = root / str(proposals.get("build_package", "."))
    address, why = propose_listen(package_dir)
    if address:
        proposals["run_listen"] = listen_list(address)
        notes["run_listen"] = f"{why}; the service must take the shared socket (see the Go helper)"
        said.append(f"listen: {address} ({why})")
    commented: Dict[str, Value] = {}
    said += propose_config(root, package_dir, proposals, notes, commented)
    target.write_text(render(proposals, notes, commented), encoding="utf-8")
    gitignore = root / ".gitignore"
    if gitignore.is_file():
        lines = gitignore.read_text(encoding="utf-8").splitlines()
        if not any(line.strip() in (".hotgo", ".hotgo/", "/.hotgo/", "/.hotgo") for line in lines):
            with gitignore.open("a", encoding="utf-8") as handle:
                prefix = "" if not lines or gitignore.read_text(encoding="utf-8").endswith("\n") else "\n"
                handle.write(f"{prefix}.hotgo/\n")
            said.append("added .hotgo/ to .gitignore")
    return target, said
