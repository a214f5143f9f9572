"""`hotgo init`: the Go files its guesses read: the main package's, then those of the
module's packages it imports (directly or not), so another command of the same module
(a CLI next to the server) does not speak for the service.

Tests, vendor/, testdata/ and .hotgo/ are skipped: what they name is not what the
service runs with. A cap keeps `hotgo init` quick on a very large module.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterator, List, Set, Tuple

from hotgo.build.go_module import module_path

MAX_FILES = 2000
MAX_DIRECTORIES = 5000
_SKIPPED_DIRS = {"vendor", "testdata", ".hotgo", ".git", "node_modules"}


_IMPORT = re.compile(r'"([^"\s]+)"')


def _kept(path: Path, root: Path) -> bool:
    parts = path.relative_to(root).parts if path.is_relative_to(root) else ()
    return not path.name.endswith("_test.go") and not _SKIPPED_DIRS.intersection(parts)


def _imported_dirs(path: Path, root: Path, module: str) -> List[Path]:
    """Directories of the module's own packages a file imports (read up to its first declaration)."""
    try:
        head = re.split(r"\n(?:func|type|var|const) ", path.read_text(encoding="utf-8", errors="replace"),
                        maxsplit=1)[0]
    except OSError:
        return []
    found = []
    for name in _IMPORT.findall(head[head.find("import"):] if "import" in head else ""):
        if name == module or name.startswith(module + "/"):
            found.append(root / name[len(module):].lstrip("/"))
    return found


def go_sources(root: Path, package_dir: Path) -> Iterator[Path]:
    """The main package's files, then its imports' within the module (the whole module when go.mod names
    no module)."""
    module = module_path(root) if (root / "go.mod").is_file() else ""
    if not module:
        directories = [package_dir, *sorted({p.parent for p in root.rglob("*.go")} - {package_dir})]
    else:
        directories = [package_dir]
    done: Set[Path] = set()
    seen = 0
    while directories:
        directory = directories.pop(0)
        if directory in done:
            continue
        done.add(directory)
        for path in sorted(directory.glob("*.go")):
            if not _kept(path, root):
                continue
            seen += 1
            if seen > MAX_FILES:
                return
            if module:
                directories += [d for d in _imported_dirs(path, root, module) if d not in done]
            yield path


def read_sources(root: Path, package_dir: Path) -> Iterator[Tuple[Path, str]]:
    """(path, text) of each source, unreadable ones left out."""
    for path in go_sources(root, package_dir):
        try:
            yield path, path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue


def shown(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def module_directories(root: Path) -> Iterator[Path]:
    """The module's directories, root first: not skipped ones, hidden ones or `_name` ones (go ignores both), nor
    nested modules (a go.mod of their own: not built from this one). Capped, like the sources."""
    seen = 0
    for current, names, _files in os.walk(root):
        directory = Path(current)
        if directory != root and (directory / "go.mod").is_file():
            names[:] = []
            continue
        seen += 1
        if seen > MAX_DIRECTORIES:
            return
        names[:] = sorted(n for n in names if n not in _SKIPPED_DIRS and not n.startswith((".", "_")))
        yield directory
