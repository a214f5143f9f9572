"""The parts of a .go file that decide the import graph: build constraints, package clause, imports, and
the `//go:embed` directives (they decide which other files are sources).

When an edit leaves these as they were, the services that build the file still import (and embed) what
they did: their graph needs no new `go list`. The tokens are scanned only as far as the last import.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import FrozenSet, Iterator, List, Optional, Tuple

# Go's tokens as far as the header needs them: comments, string literals, identifiers, one other character.
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\\n])*"|`[^`]*`)
  | (?P<word>[^\W\d]\w*)
  | (?P<other>.)
""", re.VERBOSE | re.DOTALL)

_EMBED = re.compile(r"^[ \t]*//go:embed[ \t].*$", re.MULTILINE)


@dataclass(frozen=True)
class GoHeader:
    constraints: Tuple[str, ...]  # the `//go:build` and `// +build` lines before the package clause
    package: str  # "" when the file has no package clause (yet)
    imports: FrozenSet[str]
    embeds: Tuple[str, ...]  # the `//go:embed` lines, anywhere in the file


def read_header(path: Path) -> Optional[GoHeader]:
    """The header of a .go file; None when it cannot be read (gone, a directory, no permission)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    return parse_header(text)


def parse_header(text: str) -> GoHeader:
    tokens = _tokens(text)
    constraints: List[str] = []
    package = ""
    for kind, value in tokens:
        if kind == "comment" and (value.startswith("//go:build") or value.startswith("// +build")):
            constraints.append(" ".join(value.split()))
        elif kind != "comment":
            if value == "package":
                package = next((v for k, v in tokens if k != "comment"), "")
            break
    imports = frozenset(_imports(tokens)) if package else frozenset()
    embeds = tuple(" ".join(line.split()) for line in _EMBED.findall(text))
    return GoHeader(tuple(constraints), package, imports, embeds)


def _tokens(text: str) -> Iterator[Tuple[str, str]]:
    for match in _TOKEN.finditer(text):
        if match.lastgroup != "space":
            yield str(match.lastgroup), match.group()


def _imports(tokens: Iterator[Tuple[str, str]]) -> List[str]:
    """The paths of the import declarations right after the package clause; stops at the first other token."""
    found: List[str] = []
    state = "declaration"  # then "spec" after `import`, "block" inside `import ( ... )`
    for kind, value in tokens:
        if kind == "comment" or value == ";":
            continue
        if state == "declaration":
            if value != "import":
                break
            state = "spec"
        elif kind == "string":
            found.append(value[1:-1])
            state = "block" if state == "block" else "declaration"
        elif state == "spec" and value == "(":
            state = "block"
        elif state == "block" and value == ")":
            state = "declaration"
        # else an alias (`name`, `_`, `.`) before its path
    return found
