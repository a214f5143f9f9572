"""`hotgo init`: the code generators a repository shows, proposed as `[[generate]]` entries.

Only a generator whose inputs are known is proposed: templ (`*.templ`), sqlc (the
queries and schema its config names, else every `.sql`), buf (`*.proto`, with
buf.gen.yaml at the module root). `//go:generate` directives run commands whose
inputs nobody declares: that entry is written commented, naming the files that
hold them. A watch on a generator's own output would run it again after each run,
so nothing is guessed there.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

from hotgo.init.go_sources import MAX_FILES, module_directories, shown

SQLC_CONFIGS = ("sqlc.yaml", "sqlc.yml", "sqlc.json")
BUF_TEMPLATES = ("buf.gen.yaml", "buf.gen.yml")
_DIRECTIVE = re.compile(r"^//go:generate\s+(?:go\s+(?:run|tool)\s+)?(\S+)", re.MULTILINE)
_GLOB_CHARS = re.compile(r"[*?\[]")
_MOST_NAMED = 10


@dataclass(frozen=True)
class Generator:
    watch: List[str]
    run: str
    why: str
    sure: bool  # False: written commented, for the user to check and enable


@dataclass
class _Found:
    templ: List[str]
    sqlc: List[Path]
    buf: List[Path]
    directives: Dict[str, List[str]]  # file → the tools its //go:generate lines run


def _scan(root: Path) -> _Found:
    found = _Found([], [], [], {})
    read = 0
    for directory in module_directories(root):
        for path in sorted(p for p in directory.iterdir() if p.is_file()):
            name = path.name
            if name.endswith(".templ"):
                found.templ.append(shown(path, root))
            elif name in SQLC_CONFIGS:
                found.sqlc.append(path)
            elif name in BUF_TEMPLATES:
                found.buf.append(path)
            elif name.endswith(".go") and not name.endswith("_test.go") and read < MAX_FILES:
                read += 1
                try:
                    tools = _DIRECTIVE.findall(path.read_text(encoding="utf-8", errors="replace"))
                except OSError:
                    continue
                if tools:
                    found.directives[shown(path, root)] = tools
    return found


def _input_glob(config: Path, value: str, root: Path) -> Optional[str]:
    """A path sqlc's config names (relative to the config), as a glob from the module root."""
    target = Path(os.path.normpath(config.parent / value))
    if not target.is_relative_to(root) or target == root:
        return None
    relative = shown(target, root)
    if _GLOB_CHARS.search(value) or not target.is_dir():
        return relative
    return f"{relative}/*.sql"  # sqlc reads the .sql files of a directory it is given


def _sqlc_watch(config: Path, root: Path) -> Optional[List[str]]:
    """The queries and schema globs a sqlc config names (version 1 `packages` or 2 `sql`), or None."""
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
        data = json.loads(text) if config.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError):
        return None
    entries = (data.get("sql") or data.get("packages")) if isinstance(data, dict) else None
    globs: List[str] = []
    for entry in entries if isinstance(entries, list) else []:
        for key in ("schema", "queries"):
            value = entry.get(key) if isinstance(entry, dict) else None
            for path in [value] if isinstance(value, str) else value if isinstance(value, list) else []:
                glob = _input_glob(config, path, root) if isinstance(path, str) else None
                if glob is None:
                    return None
                globs.append(glob)
    return [*dict.fromkeys(globs), shown(config, root)] if globs else None


def _sqlc(config: Path, root: Path) -> Generator:
    where = shown(config, root)
    run = "sqlc generate" if config.parent == root else f"sqlc generate -f {where}"
    watch = _sqlc_watch(config, root)
    if watch is not None:
        return Generator(watch, run, f"{where}: sqlc, on the queries and schema it names", True)
    return Generator(["**/*.sql", where], run, f"{where}: sqlc (its queries and schema not read from it: every "
                     ".sql file)", True)


def _buf(template: Path, root: Path) -> Generator:
    where = shown(template, root)
    if template.parent == root:
        return Generator(["**/*.proto"], "buf generate", f"{where}: buf", True)
    return Generator([f"{shown(template.parent, root)}/**/*.proto"], "buf generate",
                     f"{where}: buf, but not at the module root: its inputs and outputs are relative to "
                     "where it runs, and `run` here is for the module root; make it run there, then uncomment", False)


def _go_generate(directives: Dict[str, List[str]]) -> Generator:
    files = list(directives)
    named = ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")
    more = f" (the first {_MOST_NAMED} here)" if len(files) > _MOST_NAMED else ""
    return Generator(files[:_MOST_NAMED], "go generate ./...",
                     f"//go:generate in {named}: which files its commands read is unknown, so watch holds the files "
                     f"with the directives{more}; set it to their inputs (never to what they write, or each run "
                     "starts the next) and uncomment", False)


def detect_generators(root: Path) -> List[Generator]:
    found = _scan(root)
    generators: List[Generator] = []
    proposed = set()
    if found.templ:
        more = f" and {len(found.templ) - 1} more" if len(found.templ) > 1 else ""
        generators.append(Generator(["**/*.templ"], "templ generate", f"templ files: {found.templ[0]}{more}", True))
        proposed.add("templ")
    for config in found.sqlc:
        generators.append(_sqlc(config, root))
        proposed.add("sqlc")
    for template in found.buf:
        generators.append(_buf(template, root))
        proposed.add("buf")
    # a directive that runs a generator proposed above is covered by that entry
    directives = {path: tools for path, tools in found.directives.items()
                  if any(tool.split("/")[-1].split("@")[0] not in proposed for tool in tools)}
    if directives:
        generators.append(_go_generate(directives))
    return generators


def generator_lines(generators: List[Generator]) -> List[str]:
    """The `[[generate]]` entries, an unsure one commented out with its reason."""
    if not generators:
        return []
    out = ["# Code generators: `run` when a file matching `watch` changes.", ""]
    for generator in generators:
        mark = "" if generator.sure else "# "
        out += [f"# hotgo init: {generator.why}", f"{mark}[[generate]]",
                f"{mark}watch = [{', '.join(json.dumps(glob) for glob in generator.watch)}]",
                f"{mark}run = {json.dumps(generator.run)}", ""]
    return out
