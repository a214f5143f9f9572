"""`hotgo init`: the module's main packages, and the service name each one gets in hotgo.toml.

Main packages are looked for where Go projects keep their commands: `./cmd/*`, `cmd/*`
deeper down (`./services/billing/cmd/server`), the module root, and the directory
`hotgo init` runs in. Elsewhere a `package main` is as often a tool or an example
as a service, so it is not proposed. Examples marked `//go:build ignore` never are.

A service is named after its package directory (`./cmd/api` → `api`; the root `.`
after the module, `example.com/shop/v2` → `shop`). When names clash, each clashing
package puts its parent directories in front, one at a time and leaving out `cmd`,
until the names differ (`./cmd/api` and `./tools/cmd/api` → `api` and `tools-api`);
what still clashes gets `-2`, `-3` in the order found.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional

from hotgo.build.constraints import never_built
from hotgo.build.go_module import module_path
from hotgo.init.go_sources import module_directories

MAX_NAME = 32
_PACKAGE_MAIN = re.compile(r"^package\s+main\b", re.MULTILINE)
_NOT_NAME = re.compile(r"[^A-Za-z0-9_-]+")
_MAJOR_VERSION = re.compile(r"v[0-9]+")


def has_main(directory: Path) -> bool:
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


def _build_path(directory: Path, root: Path) -> str:
    relative = directory.relative_to(root).as_posix()
    return "." if relative == "." else "./" + relative


def detect_packages(root: Path, cwd: Optional[Path] = None) -> List[str]:
    """Main packages: the directory `hotgo init` runs in, ./cmd/* (the usual layout), cmd/* deeper down, then the
    module root."""
    found = [f"./cmd/{d.name}" for d in sorted((root / "cmd").glob("*")) if d.is_dir() and has_main(d)]
    found += [_build_path(d, root) for d in module_directories(root)
              if d.parent.name == "cmd" and d.parent.parent != root and has_main(d)]
    if has_main(root):
        found.append(".")
    if cwd is not None and cwd != root and cwd.is_relative_to(root) and has_main(cwd):
        here = _build_path(cwd, root)
        found = [here, *(package for package in found if package != here)]
    return found


def _clean(word: str) -> str:
    return _NOT_NAME.sub("-", word).strip("-_")


def _name_parts(package: str, root: Path) -> List[str]:
    """The directories a name can be made of, innermost last (`./tools/cmd/api` → tools, api)."""
    if package == ".":
        module = module_path(root) if (root / "go.mod").is_file() else ""
        elements = [e for e in (module or root.name).split("/") if e]
        while len(elements) > 1 and _MAJOR_VERSION.fullmatch(elements[-1]):
            elements.pop()  # example.com/shop/v2 is the shop
        parts = [_clean(elements[-1])] if elements else []
    else:
        parts = [_clean(p) for p in package.split("/") if p not in (".", "cmd")]
    return [p for p in parts if p] or ["service"]


def _joined(parts: List[str]) -> str:
    # the innermost directory says most: a long name loses its outer parents first
    return "-".join(parts)[-MAX_NAME:].lstrip("-_") or "service"


def service_names(packages: List[str], root: Path) -> Dict[str, str]:
    """package → service name, unique, `[A-Za-z0-9][A-Za-z0-9_-]*`, at most 32 characters."""
    parts = {package: _name_parts(package, root) for package in packages}
    depth = dict.fromkeys(packages, 1)
    while True:
        names = {package: _joined(parts[package][-depth[package]:]) for package in packages}
        taken = list(names.values())
        longer = [p for p in packages if taken.count(names[p]) > 1 and depth[p] < len(parts[p])]
        if not longer:
            break
        for package in longer:
            depth[package] += 1
    unique: Dict[str, str] = {}
    for package in packages:
        name, number = names[package], 1
        while name in unique.values():
            number += 1
            suffix = f"-{number}"
            name = names[package][:MAX_NAME - len(suffix)] + suffix
        unique[package] = name
    return unique
