"""What to do when `go list` says "build constraints exclude all Go files in DIR".

go names no tag; the files' `//go:build` lines do. `ignore` (and the like) marks an
example or a generator run on its own, never built as a package: copy it or
`go run` it. Any other tag is one the build must be given: `--build-flags=-tags=…`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import List, Optional

_EXCLUDED = re.compile(r"build constraints exclude all Go files in (?P<dir>.+?)\s*$")
_BUILD_LINE = re.compile(r"^//go:build\s+(?P<expr>.+)$", re.MULTILINE)
_TAG = re.compile(r"!?[\w.]+")
# Tags never set on a build: files carrying them are examples or tools run with `go run FILE`.
NEVER_SET = {"ignore", "tools", "tool", "example", "examples", "generate", "gen", "codegen", "exclude", "none"}
_GOOS = {"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
         "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos", "unix"}
_GOARCH = {"386", "amd64", "arm", "arm64", "loong64", "mips", "mipsle", "mips64", "mips64le", "ppc64", "ppc64le",
           "riscv64", "s390x", "wasm"}
_TOOLCHAIN = {"cgo", "gc", "gccgo"}


def _expressions(directory: Path) -> List[str]:
    found = []
    for path in sorted(directory.glob("*.go")):
        if path.name.endswith("_test.go"):
            continue
        try:
            head = path.read_text(encoding="utf-8", errors="replace").split("\npackage ", 1)[0]
        except OSError:
            continue
        match = _BUILD_LINE.search(head)
        found.append(match.group("expr").strip() if match else "")
    return found


def constraint_hint(message: str) -> Optional[str]:
    """The fix for go's build-constraint refusal in `message`, or None when it is not one."""
    excluded = _EXCLUDED.search(message)
    return directory_hint(Path(excluded.group("dir"))) if excluded else None


def never_built(directory: Path) -> bool:
    """Every file of the directory carries a tag no build sets (`//go:build ignore`)."""
    expressions = _expressions(directory)
    return bool(expressions) and all(any(t in NEVER_SET for t in _TAG.findall(e)) for e in expressions)


def directory_hint(directory: Path) -> Optional[str]:
    """Why go builds nothing of `directory`, and what to do, from its files' //go:build lines."""
    expressions = [e for e in _expressions(directory) if e]
    if not expressions:
        return None
    tags = [[t for t in _TAG.findall(e)] for e in expressions]
    if all(any(t in NEVER_SET for t in words) for words in tags):
        marked = sorted({t for words in tags for t in words if t in NEVER_SET})
        return (f"every file there is `//go:build {marked[0]}`: an example or a tool run on its own, not a package "
                "to build as is; copy it into a package of yours, or run one file with `go run FILE`")
    wanted = sorted({t for words in tags for t in words if not t.startswith("!") and t not in NEVER_SET
                     and t not in _GOOS and t not in _GOARCH and t not in _TOOLCHAIN
                     and not re.fullmatch(r"go1\.\d+", t)})
    if wanted:
        return (f"its files need the build tag{'s' if len(wanted) > 1 else ''} {', '.join(wanted)} "
                f"(`//go:build {expressions[0]}`): pass it with --build-flags=-tags={','.join(wanted)} "
                f"or [build] flags = [\"-tags={','.join(wanted)}\"] in hotgo.toml")
    return (f"its files are built only for other systems or Go versions (`//go:build {expressions[0]}`); "
            "build on such a system, or set GOOS/GOARCH in [build] env")
