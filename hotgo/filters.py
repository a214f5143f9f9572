"""Which paths matter: include/exclude globs (gitignore-like) plus editor/sync temp files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable, List, Optional, Pattern, Sequence

# Files editors and sync tools write next to the real one while saving.
_TEMP_FILE = re.compile(
    r"""^(?:
        \..*                        # hidden: vim .swp, rsync .name.XXXXXX, Syncthing, Go ignores these
      | _.*                         # Go ignores files starting with _
      | .*~                         # backups (vim, emacs)
      | \#.*\#                      # emacs autosave
      | 4913                        # vim's write-permission probe
      | .*___jb_(?:tmp|old|bak)___  # JetBrains safe write
      | ~syncthing~.*               # Syncthing (Windows naming)
      | .*\.(?:swp|swx|swo|tmp|part|crdownload)
    )$""",
    re.VERBOSE,
)


def is_temp_file(name: str) -> bool:
    return bool(_TEMP_FILE.match(name))


def glob_to_regex(pattern: str) -> Pattern[str]:
    """`**` spans directories, `*` and `?` stay inside one path segment.

    A pattern without '/' matches a file name at any depth (like .gitignore);
    one with '/' is anchored at the watch root.
    """
    anchored = "/" in pattern.rstrip("/")
    body = pattern.strip("/")
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if body.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
            continue
        if body.startswith("**", index):
            out.append(".*")
            index += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = body.find("]", index + 1)
            if end == -1:
                raise ValueError(f"glob {pattern!r}: '[' without a closing ']'")
            out.append("[" + body[index + 1 : end].replace("!", "^", 1) + "]")
            index = end
        else:
            out.append(re.escape(char))
        index += 1
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{''.join(out)}$")


class PathFilter:
    """Decides, for paths under one root, what is relevant and which dirs to skip."""

    def __init__(self, root: Path, include: Sequence[str], exclude: Sequence[str]) -> None:
        self.root = root
        self._include = [glob_to_regex(p) for p in include]
        self._exclude_files = [glob_to_regex(p) for p in exclude if not p.endswith("/")]
        self._exclude_dirs = [glob_to_regex(p) for p in exclude if p.endswith("/")]

    def _relative(self, path: Path) -> Optional[str]:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return None

    def skips_dir(self, path: Path) -> bool:
        """True for a directory that is neither watched nor scanned."""
        relative = self._relative(path)
        if relative is None or relative == ".":
            return False
        return any(rule.match(relative) for rule in self._exclude_dirs)

    def _inside_skipped_dir(self, relative: str) -> bool:
        parts = relative.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if any(rule.match(prefix) for rule in self._exclude_dirs):
                return True
        return False

    def relevant(self, path: Path) -> bool:
        """True for a file whose change should rebuild."""
        relative = self._relative(path)
        if relative is None or is_temp_file(path.name):
            return False
        if not any(rule.match(relative) for rule in self._include):
            return False
        if any(rule.match(relative) for rule in self._exclude_files):
            return False
        return not self._inside_skipped_dir(relative)

    def walk(self, start: Optional[Path] = None) -> Iterable[Path]:
        """Every relevant file below `start` (default: the root), skipped dirs not entered."""
        stack: List[Path] = [start or self.root]
        while stack:
            directory = stack.pop()
            try:
                entries = list(directory.iterdir())
            except OSError:
                continue
            for entry in entries:
                try:
                    is_dir = entry.is_dir() and not entry.is_symlink()
                except OSError:
                    continue
                if is_dir:
                    if not self.skips_dir(entry):
                        stack.append(entry)
                elif self.relevant(entry):
                    yield entry
