"""Which services a changed file rebuilds: the import graphs of several services of one tree.

Each service's graph is the local part of its `go list -deps` (service_deps.py). A changed path goes to
the services whose build reads it; one no build reads (a test file, a package nobody imports, docs)
goes to none, with the reason. `refresh` names the services whose graph may have changed with it:
the caller runs `load_deps` for them again (after their build: go list then reads a settled tree).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, FrozenSet, Iterable, List, Mapping, NamedTuple, Optional, Sequence, Set, Tuple

from hotgo import stop_signals
from hotgo.build.embed_match import embedded
from hotgo.build.go_header import read_header
from hotgo.build.go_module import find_go_work, local_module_dirs
from hotgo.build.service_deps import LocalPackage, ServiceDeps, load_deps

# Files go build takes from a package directory besides .go ones (go help filetype): a new one is a source.
_OTHER_SOURCES = frozenset((".c", ".cc", ".cpp", ".cxx", ".h", ".hh", ".hpp", ".hxx", ".s", ".S", ".sx",
                            ".syso", ".m", ".f", ".F", ".for", ".f90", ".swig", ".swigcxx"))


class ServiceSpec(NamedTuple):
    """How a service's package is listed: as its build runs go."""

    root: Path
    package: str
    env: Mapping[str, str]
    build_flags: Sequence[str]


@dataclass(frozen=True)
class Routing:
    by_service: Dict[str, Tuple[Path, ...]]  # the changed paths each affected service builds from
    unrouted: Tuple[Tuple[Path, str], ...]  # paths no service builds from, and why
    refresh: FrozenSet[str]  # services whose graph must be listed again (load_deps) after this change


class _Decision(NamedTuple):
    services: FrozenSet[str]
    refresh: FrozenSet[str]
    reason: str  # why no service, when services is empty


class ImportGraph:
    """The graphs of all services, indexed by what a change can be: a package directory, a module's
    go.mod and go.sum, a workspace's go.work. Immutable: a refreshed service makes a new graph."""

    def __init__(self, services: Mapping[str, ServiceDeps]) -> None:
        self.services: Mapping[str, ServiceDeps] = dict(services)
        self._by_dir: Dict[Path, List[Tuple[str, LocalPackage]]] = {}
        self._by_module_file: Dict[Path, Set[str]] = {}
        self._by_work_file: Dict[Path, Set[str]] = {}
        self._modules: Dict[Path, str] = {}  # module directory: module path
        for name, deps in self.services.items():
            for package in deps.packages:
                self._by_dir.setdefault(package.directory, []).append((name, package))
            for path in deps.module_files:
                self._by_module_file.setdefault(path, set()).add(name)
            for path in deps.workspace_files:
                self._by_work_file.setdefault(path, set()).add(name)
            self._modules.update((module.directory, module.path) for module in deps.modules)

    def replaced(self, fresh: Mapping[str, ServiceDeps]) -> ImportGraph:
        """This graph with the services of `fresh` listed anew."""
        return ImportGraph({**self.services, **fresh})

    def route(self, paths: Iterable[Path]) -> Routing:
        """For each changed path (edited, created or deleted), the services it rebuilds."""
        by_service: Dict[str, List[Path]] = {}
        unrouted: List[Tuple[Path, str]] = []
        refresh: Set[str] = set()
        for given in paths:
            path = _resolved(Path(given))
            decision = self._decide(path)
            for name in sorted(decision.services):
                by_service.setdefault(name, []).append(path)
            if not decision.services:
                unrouted.append((path, decision.reason))
            refresh |= decision.refresh
        return Routing({name: tuple(found) for name, found in by_service.items()}, tuple(unrouted),
                       frozenset(refresh))

    # -- deciding one path ----------------------------------------------------------------------
    def _decide(self, path: Path) -> _Decision:
        if path.name in ("go.work", "go.work.sum"):
            return self._workspace_file(path)
        if path.name in ("go.mod", "go.sum"):
            return self._module_file(path)
        if path.name.endswith("_test.go"):
            return _none("test file")
        if path.suffix == ".go":
            return self._go_file(path)
        return self._other_file(path)

    def _workspace_file(self, path: Path) -> _Decision:
        services = frozenset(self._by_work_file.get(path, ()))
        if not services:  # a go.work new to a tree of services: it takes over their builds
            services = frozenset(name for name, deps in self.services.items()
                                 if deps.go_work is None and _within(deps.root, path.parent))
        if not services:
            return _none(f"no service's build uses {path.name} in {path.parent}")
        return _Decision(services, services if path.name == "go.work" else frozenset(), "")

    def _module_file(self, path: Path) -> _Decision:
        services = frozenset(self._by_module_file.get(path, ()))
        if not services and path.name == "go.mod":  # a new module boundary among packages built
            services = frozenset(name for directory, entries in self._by_dir.items()
                                 if _within(directory, path.parent) for name, _ in entries)
        if not services:
            return _none(f"no service uses the module in {path.parent}")
        return _Decision(services, services if path.name == "go.mod" else frozenset(), "")

    def _go_file(self, path: Path) -> _Decision:
        entries = self._by_dir.get(path.parent, [])
        if not entries:
            waiting = self._waiting_for(path.parent)
            if waiting:  # the package a service imports, before go list found it
                return _Decision(waiting, waiting, "")
            return _none(f"no service imports package {self._shown_package(path.parent)}")
        services: Set[str] = set()
        refresh: Set[str] = set()
        header = read_header(path)
        for name, package in entries:
            deps = self.services[name]
            known = deps.headers.get(path)
            changed = header is None or known is None or header != known or path in deps.unsettled
            if path in package.ignored_go_files and not changed:
                continue  # its build constraints still leave it out
            services.add(name)
            if changed:
                refresh.add(name)
        return _Decision(frozenset(services), frozenset(refresh),
                         f"build constraints leave it out of package {self._shown_package(path.parent)}")

    def _other_file(self, path: Path) -> _Decision:
        services: Set[str] = set()
        refresh: Set[str] = set()
        for directory in path.parents:
            for name, package in self._by_dir.get(directory, ()):
                relative = path.relative_to(directory).as_posix()
                if path in package.sources or path in package.embed_files or embedded(package.embed_patterns, relative):
                    services.add(name)
                elif directory == path.parent and path.suffix in _OTHER_SOURCES:
                    services.add(name)  # go list will name it
                    refresh.add(name)
        if not services and not path.exists():  # a directory removed, with packages in it
            gone = {name for directory, entries in self._by_dir.items() if _within(directory, path)
                    for name, _ in entries}
            services = refresh = gone
        if not services:
            return _none("not a source of any service")
        return _Decision(frozenset(services), frozenset(refresh), "")

    def _waiting_for(self, directory: Path) -> FrozenSet[str]:
        """Services with an import that go list found no package for, which this directory would be."""
        import_path = self._import_path(directory)
        if import_path is None:
            return frozenset()
        return frozenset(name for name, deps in self.services.items() if import_path in deps.missing_imports)

    def _import_path(self, directory: Path) -> Optional[str]:
        for module_dir in (directory, *directory.parents):
            module_path = self._modules.get(module_dir)
            if module_path is not None:
                relative = directory.relative_to(module_dir).as_posix()
                return module_path if relative == "." else f"{module_path}/{relative}"
        return None

    def _shown_package(self, directory: Path) -> str:
        """./internal/unused, relative to the deepest local module holding it, else the directory."""
        for module_dir in (directory, *directory.parents):
            if module_dir in self._modules:
                relative = directory.relative_to(module_dir).as_posix()
                return "." if relative == "." else "./" + relative
        return str(directory)


def _none(reason: str) -> _Decision:
    return _Decision(frozenset(), frozenset(), reason)


def _within(path: Path, directory: Path) -> bool:
    return path == directory or directory in path.parents


def _resolved(path: Path) -> Path:
    """As go list names files: the directory's links resolved (macOS /tmp is /private/tmp), not the file's."""
    absolute = Path(os.path.abspath(path))
    return absolute.parent.resolve() / absolute.name


def load_graph(go: str, services: Mapping[str, ServiceSpec], workers: Optional[int] = None) -> ImportGraph:
    """`go list -deps` of every service at once, as many at a time as `workers` (at most the cores).
    Raises the first GoListFailed."""
    return ImportGraph(load_services(go, services, workers))


def load_services(go: str, services: Mapping[str, ServiceSpec], workers: Optional[int] = None
                  ) -> Dict[str, ServiceDeps]:
    """The ServiceDeps of each service (for `ImportGraph.replaced` after a refresh)."""
    if not services:
        return {}
    bound = min(len(services), workers or os.cpu_count() or 1, os.cpu_count() or 1)
    pool = ThreadPoolExecutor(max_workers=bound, thread_name_prefix="go-list")
    try:
        futures = {name: pool.submit(load_deps, go, *spec) for name, spec in services.items()}
        with stop_signals.interruptible():  # at start-up a stop request ends the wait
            return {name: future.result() for name, future in futures.items()}
    finally:
        # What has not started is dropped; a go list under way ends within its timeout (or is done).
        pool.shutdown(wait=False, cancel_futures=True)


def watch_directories(services: Mapping[str, ServiceSpec]) -> List[Path]:
    """What one watcher watches for all these services (before any graph: go list is not needed): each
    module root, the directory of the go.work that applies, its `use` and the local `replace`
    directories; none inside another."""
    found: Set[Path] = set()
    for spec in services.values():
        root = spec.root.resolve()
        found.add(root)
        work = find_go_work(root, spec.env)
        if work is not None:
            found.add(work.resolve().parent)
        found.update(local_module_dirs(root))
    return sorted(d for d in found if not any(other in d.parents for other in found))
