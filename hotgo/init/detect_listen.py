"""`hotgo init`: the address a service listens on, read from its main package's source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Tuple

from hotgo.init.go_sources import go_sources

_ADDRESS_LITERAL = re.compile(r'"((?:localhost|\[[0-9a-fA-F:]+\]|[0-9.]*)?:\d{2,5})"')
_READS_PORT = re.compile(r'Getenv\(\s*"PORT"\s*\)')
READS_PORT_NOTE = "the service reads PORT, which hotgo sets to the first listen port"


def address_in_source(package_dir: Path) -> Optional[Tuple[str, str]]:
    """The first address literal of the main package's files, and where it is."""
    for path in sorted(package_dir.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        match = _ADDRESS_LITERAL.search(path.read_text(encoding="utf-8", errors="replace"))
        if match:
            return match.group(1), f"found \"{match.group(1)}\" in {path.name}"
    return None


def reads_port(package_dir: Path, root: Optional[Path] = None) -> bool:
    """The main package reads PORT, or (given the module root) a package of the module it imports
    does: a service's listening often lives in a shared package of the repository."""
    files = go_sources(root, package_dir) if root is not None else sorted(package_dir.glob("*.go"))
    return any(_READS_PORT.search(path.read_text(encoding="utf-8", errors="replace"))
               for path in files if not path.name.endswith("_test.go"))


def propose_listen(package_dir: Path, root: Optional[Path] = None) -> Tuple[Optional[str], str]:
    """An address the service listens on, read from its main package's source."""
    found = address_in_source(package_dir)
    if found:
        return found
    if reads_port(package_dir, root):
        return ":8080", READS_PORT_NOTE
    return None, ""
