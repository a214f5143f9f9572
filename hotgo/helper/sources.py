"""The Go helper's sources as this installed hotgo carries them, and their identity (a short hash).

go/ is the helper module's home in the repository (module path github.com/hotgo-dev/hotgo/go, kept
for the day it is published). A wheel carries its non-test .go files (and go.mod) as
hotgo/_gohelper/ (pyproject.toml maps go/ there); an editable install, or hotgo run from a checkout,
reads go/ beside the package. Either way there is one copy of the sources in the repository.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple

from hotgo.build.go_module import module_path
from hotgo.errors import RuntimeFailure

MODULE_PATH = "github.com/hotgo-dev/hotgo/go"
PACKAGE_NAME = "hotgo"
_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# Where to look, in order: the wheel's copy, then the checkout an editable install runs from.
PLACES = (_PACKAGE_DIR / "_gohelper", _PACKAGE_DIR.parent / "go")


@dataclass(frozen=True)
class HelperSources:
    directory: Path
    files: Tuple[Tuple[str, bytes], ...]  # (file name, content) of every non-test .go file, by name
    go_version: str  # the helper's `go` line: the oldest language version it compiles with

    @property
    def names(self) -> Tuple[str, ...]:
        return tuple(name for name, _ in self.files)

    @property
    def digest(self) -> str:
        """12 hex digits of a SHA-256 over the names and contents: equal digests, equal helpers."""
        hasher = hashlib.sha256()
        for name, content in self.files:
            hasher.update(name.encode() + b"\0" + content + b"\0")
        return hasher.hexdigest()[:12]


def is_helper_source(name: str) -> bool:
    return name.endswith(".go") and not name.endswith("_test.go")


def read_sources(directory: Path) -> HelperSources:
    files = tuple((path.name, path.read_bytes())
                  for path in sorted(directory.iterdir(), key=lambda p: p.name) if is_helper_source(path.name))
    return HelperSources(directory, files, go_directive(directory / "go.mod"))


def installed_helper(places: Sequence[Path] = PLACES) -> HelperSources:
    """The helper this hotgo carries: the first of `places` holding the helper module's go.mod."""
    for directory in places:
        if _is_helper_module(directory):
            return read_sources(directory)
    raise RuntimeFailure(f"this hotgo carries no Go helper (looked in {', '.join(str(p) for p in places)}): "
                         "reinstall hotgo (pip install hotgo's directory, not a copy of hotgo/ alone)")


def find_installed_helper(places: Sequence[Path] = PLACES) -> Optional[HelperSources]:
    try:
        return installed_helper(places)
    except (RuntimeFailure, OSError):
        return None


def _is_helper_module(directory: Path) -> bool:
    try:
        return (directory / "go.mod").is_file() and module_path(directory) == MODULE_PATH
    except OSError:
        return False


def go_directive(go_mod: Path) -> str:
    """The `go 1.22` line's version of a go.mod, or "" without one."""
    try:
        text = go_mod.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    for line in text.splitlines():
        words = line.split("//", 1)[0].split()
        if len(words) == 2 and words[0] == "go":
            return words[1]
    return ""
