"""What one service's binary is built from, on this disk: `go list -deps` of its main package, local part.

Local: the packages of the main module, of the other modules of its go.work, and of modules replaced by
a directory. The standard library and the module cache change only with go.mod, go.sum or Go itself.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterator, List, Mapping, Optional, Sequence, Tuple

from hotgo.build.go_header import GoHeader, read_header
from hotgo.build.go_module import GO_LIST_TIMEOUT, find_go_work, list_flags, run_go
from hotgo.errors import UsageError

# The files of a package that go into its build, as `go list` names them (relative to its directory).
SOURCE_FIELDS = ("GoFiles", "CgoFiles", "InvalidGoFiles", "CFiles", "CXXFiles", "HFiles", "SFiles",
                 "SysoFiles", "MFiles", "FFiles", "SwigFiles", "SwigCXXFiles")
_FIELDS = ("ImportPath", "Dir", "Standard", "Module", "Error", *SOURCE_FIELDS,
           "IgnoredGoFiles", "EmbedPatterns", "EmbedFiles")
# A file written this long before `go list` started may still be newer than what go list read
# (the file system's clock is coarse): its header is checked again at its next change.
_CLOCK_SLACK_NS = 50_000_000


class GoListFailed(UsageError):
    """`go list -deps` of a service failed as a whole (a broken go.mod or go.work, a timeout): the
    graph it would give is unknown. A package with errors (a syntax error, an import not found) is
    no failure: go list -e reports it and the graph has it."""


@dataclass(frozen=True)
class LocalModule:
    path: str  # example.com/shop
    directory: Path
    go_mod: Path  # go.sum, if any, is beside it


@dataclass(frozen=True)
class LocalPackage:
    import_path: str
    directory: Path
    module: LocalModule
    sources: FrozenSet[Path]  # every file go list says the build compiles, assembles or links
    ignored_go_files: FrozenSet[Path]  # .go files its build constraints leave out (test files not included)
    embed_patterns: Tuple[str, ...]  # relative to the directory, as in the `//go:embed` lines
    embed_files: FrozenSet[Path]


@dataclass(frozen=True)
class ServiceDeps:
    """The local part of one service's build: what a change to which rebuilds it."""

    root: Path  # where go list ran: the service's module root
    package: str  # as given to go list
    packages: Tuple[LocalPackage, ...]
    modules: Tuple[LocalModule, ...]  # the local modules of these packages
    go_work: Optional[Path]  # the workspace file that applies, if any
    missing_imports: FrozenSet[str]  # import paths go list found no package for (a package still to be written?)
    # The header of each .go file (sources and ignored ones) as read after go list ran, and the files
    # changed around that moment (whose header go list may not have seen).
    headers: Mapping[Path, GoHeader] = field(hash=False)
    unsettled: FrozenSet[Path] = frozenset()

    @property
    def directories(self) -> FrozenSet[Path]:
        return frozenset(package.directory for package in self.packages)

    @property
    def sources(self) -> FrozenSet[Path]:
        """Every file of the build: sources and embedded files of every local package."""
        return frozenset(path for package in self.packages for path in package.sources | package.embed_files)

    @property
    def module_files(self) -> FrozenSet[Path]:
        """go.mod and go.sum of every local module used (go.sum whether or not it exists yet)."""
        return frozenset(path for module in self.modules for path in (module.go_mod, module.go_mod.with_name("go.sum")))

    @property
    def workspace_files(self) -> FrozenSet[Path]:
        """go.work and go.work.sum, in a workspace."""
        work = self.go_work
        return frozenset() if work is None else frozenset({work, work.with_name("go.work.sum")})


def load_deps(go: str, root: Path, package: str, env: Mapping[str, str], build_flags: Sequence[str],
              timeout: float = GO_LIST_TIMEOUT) -> ServiceDeps:
    """`go list -e -deps -json` of `package`, run in `root` with `env` over hotgo's environment and the
    build flags that decide which files count (-tags, -mod, -modfile). Raises GoListFailed."""
    root = root.resolve()
    what = f"go list -deps {package}"
    argv = [go, "list", "-e", "-deps", "-json=" + ",".join(_FIELDS), *list_flags(build_flags), package]
    started = time.time_ns()
    code, output = run_go(argv, root, env, what, timeout)
    if code is None:
        raise GoListFailed(f"`{what}` did not answer within {timeout:g}s")
    listed, messages = _json_objects(output)
    if code != 0 or not listed:
        message = " ".join(" ".join(messages).split()) or f"exit status {code}"
        raise GoListFailed(f"`{what}` in {root} failed: {message}")
    packages: List[LocalPackage] = []
    missing: List[str] = []
    for entry in listed:
        if entry.get("Standard"):
            continue
        local = _local_package(entry)
        if local is not None:
            packages.append(local)
        elif not entry.get("Dir") and entry.get("Error"):
            missing.append(str(entry.get("ImportPath", "")))
    modules = tuple(sorted({p.module for p in packages}, key=lambda m: str(m.directory)))
    headers, unsettled = _headers(packages, started - _CLOCK_SLACK_NS)
    return ServiceDeps(root, package, tuple(packages), modules, _go_work(root, env), frozenset(missing),
                       headers, unsettled)


def _local_package(entry: Dict[str, Any]) -> Optional[LocalPackage]:
    """The package, when its module is on this disk as a main, workspace or directory-replaced module."""
    module = _local_module(entry.get("Module"))
    directory = entry.get("Dir")
    if module is None or not isinstance(directory, str) or not directory:
        return None
    base = Path(directory).resolve()
    sources = frozenset(base / name for key in SOURCE_FIELDS for name in _strings(entry, key))
    ignored = frozenset(base / name for name in _strings(entry, "IgnoredGoFiles")
                        if name.endswith(".go") and not name.endswith("_test.go"))
    return LocalPackage(str(entry.get("ImportPath", "")), base, module, sources, ignored,
                        tuple(_strings(entry, "EmbedPatterns")),
                        frozenset(base / name for name in _strings(entry, "EmbedFiles")))


def _local_module(module: object) -> Optional[LocalModule]:
    if not isinstance(module, dict):
        return None  # GOPATH mode, or a package not found
    replace = module.get("Replace")
    if isinstance(replace, dict):
        target = str(replace.get("Path", ""))
        if not (target.startswith(("./", "../", ".\\", "..\\")) or os.path.isabs(target)):
            return None  # replaced by another module version: in the module cache
        module = {**replace, "Path": module.get("Path", "")}
    elif not module.get("Main"):
        return None
    directory, go_mod = module.get("Dir"), module.get("GoMod")
    if not isinstance(directory, str) or not directory:
        return None
    base = Path(directory).resolve()
    return LocalModule(str(module.get("Path", "")), base,
                       Path(go_mod).resolve() if isinstance(go_mod, str) and go_mod else base / "go.mod")


def _strings(entry: Dict[str, Any], key: str) -> List[str]:
    value = entry.get(key)
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _json_objects(output: str) -> Tuple[List[Dict[str, Any]], List[str]]:
    """go list -json prints objects whose first and last lines are `{` and `}`; stderr shares the
    pipe (platform.spawn_tool), its lines fall between them. The objects, and the other lines."""
    objects: List[Dict[str, Any]] = []
    messages: List[str] = []
    lines = iter(output.splitlines())
    for line in lines:
        if line != "{":
            if line.strip():
                messages.append(line)
            continue
        body = ["{", *_until_closing(lines)]
        try:
            value = json.loads("\n".join(body))
        except ValueError:
            messages.extend(body)
            continue
        if isinstance(value, dict):
            objects.append(value)
    return objects, messages


def _until_closing(lines: Iterator[str]) -> Iterator[str]:
    for line in lines:
        yield line
        if line == "}":
            return


def _headers(packages: Sequence[LocalPackage], since_ns: int
             ) -> Tuple[Dict[Path, GoHeader], FrozenSet[Path]]:
    headers: Dict[Path, GoHeader] = {}
    unsettled: List[Path] = []
    for package in packages:
        for path in sorted(package.ignored_go_files | {p for p in package.sources if p.suffix == ".go"}):
            header = read_header(path)
            if header is None:
                unsettled.append(path)  # gone already: its next event refreshes
                continue
            headers[path] = header
            try:
                if path.stat().st_mtime_ns >= since_ns:
                    unsettled.append(path)
            except OSError:
                unsettled.append(path)
    return headers, frozenset(unsettled)


def _go_work(root: Path, env: Mapping[str, str]) -> Optional[Path]:
    work = find_go_work(root, env)
    return None if work is None else work.resolve()
