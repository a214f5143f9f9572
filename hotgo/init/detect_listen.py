"""`hotgo init`: the address a service listens on, read from its main package's source."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Tuple

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


def reads_port(package_dir: Path) -> bool:
    return any(_READS_PORT.search(path.read_text(encoding="utf-8", errors="replace"))
               for path in sorted(package_dir.glob("*.go")) if not path.name.endswith("_test.go"))


def propose_listen(package_dir: Path) -> Tuple[Optional[str], str]:
    """An address the service listens on, read from its main package's source."""
    found = address_in_source(package_dir)
    if found:
        return found
    if reads_port(package_dir):
        return ":8080", READS_PORT_NOTE
    return None, ""
