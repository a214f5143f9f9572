"""`hotgo helper [DIR]`: write the Go helper package into the user's module, offline.

Every non-test .go file of the installed helper (hotgo/helper/sources.py) goes into DIR (default
internal/hotgo at the module root; the package is `hotgo` whatever DIR is called), each behind the
header of hotgo/helper/header.py. Running it again updates the copy: files the helper no longer has
are removed. A .go file in DIR that hotgo helper did not write is never overwritten.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional, Set

from hotgo import __version__
from hotgo.build.go_module import find_module_root, module_path
from hotgo.errors import RuntimeFailure, UsageError
from hotgo.helper.header import Origin, header, read_origin
from hotgo.helper.sources import HelperSources, go_directive, installed_helper
from hotgo.settings import limits

DEFAULT_DIR = PurePosixPath("internal", "hotgo")


@dataclass
class Written:
    directory: Path
    root: Path  # the module root DIR belongs to
    import_path: str
    helper: HelperSources
    previous: Set[Origin] = field(default_factory=set)  # what the copy it replaced said of itself
    removed: List[str] = field(default_factory=list)  # files of an older copy the helper no longer has
    go_version: str = ""  # the module's `go` line


def target_directory(cwd: Path, argument: Optional[str]) -> Path:
    """DIR as the user gave it (relative to the current directory), else internal/hotgo at the module root."""
    if argument is None:
        return find_module_root(cwd) / DEFAULT_DIR
    if not argument.strip():
        raise UsageError("DIR is empty: name a directory inside your module, e.g. hotgo helper internal/hotgo")
    return Path(os.path.normpath(cwd / argument))


def write_helper(cwd: Path, argument: Optional[str] = None, helper: Optional[HelperSources] = None,
                 version: str = __version__) -> Written:
    helper = helper or installed_helper()
    try:
        limits.file_path(argument or "")  # a NUL byte, a name too long: said, before any file is looked at
    except ValueError as err:
        raise UsageError(f"hotgo helper DIR: {err}") from None
    directory = target_directory(cwd, argument)
    shown = argument if argument is not None else str(DEFAULT_DIR)
    if directory.exists() and not directory.is_dir():
        raise UsageError(f"{shown} is not a directory: name a directory for the helper package "
                         "(hotgo helper DIR), e.g. internal/hotgo")
    root = find_module_root(_nearest_existing(directory))
    relative = directory.relative_to(root)
    _check_go_sees(relative, shown)
    ours = _our_files(directory, shown)
    written = Written(directory, root, _import_path(module_path(root), relative), helper,
                      {origin for origin in ours.values() if origin is not None},
                      go_version=go_directive(root / "go.mod"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
        head = header(version, helper.digest)
        for name, content in helper.files:
            _replace(directory / name, head + content)
        for name in sorted(set(ours) - set(helper.names)):
            (directory / name).unlink()
            written.removed.append(name)
    except OSError as err:
        raise RuntimeFailure(f"cannot write the helper into {directory}: {err.strerror or err}") from None
    return written


def _nearest_existing(directory: Path) -> Path:
    for candidate in (directory, *directory.parents):
        if candidate.is_dir():
            return candidate
    return directory


def _check_go_sees(relative: Path, shown: str) -> None:
    """The go command skips testdata, vendor, and names starting with . or _: a package there is not importable."""
    for part in relative.parts:
        if part in ("testdata", "vendor") or part.startswith((".", "_")):
            raise UsageError(f"{shown}: the go command ignores directories named {part!r}, so the helper could not "
                             "be imported from there; choose another DIR, e.g. hotgo helper internal/hotgo")


def _our_files(directory: Path, shown: str) -> Dict[str, Optional[Origin]]:
    """The .go files in DIR, each with its origin; refuse when one was not written by hotgo helper."""
    if not directory.is_dir():
        return {}
    found: Dict[str, Optional[Origin]] = {}
    for path in sorted(directory.iterdir()):
        if not path.name.endswith(".go"):
            continue
        origin = read_origin(path)
        if origin is None:
            raise UsageError(f"{Path(shown) / path.name} was not written by hotgo helper and would be mixed with "
                             "the helper package: write the helper to another directory (hotgo helper DIR), "
                             "or delete that file")
        found[path.name] = origin
    return found


def _import_path(module: str, relative: Path) -> str:
    parts = [module, *relative.parts] if module else list(relative.parts)
    return "/".join(parts)


def _replace(path: Path, content: bytes) -> None:
    """Write whole or not at all: a build (or hotgo's watcher) never reads half a file."""
    temporary = path.with_name(f".{path.name}.hotgo-tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
