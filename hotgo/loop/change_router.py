"""Which services a settled change concerns, by what each one imports (several services only).

A service's own config files go to that service (its pusher decides: push, or rebuild when
sources changed too). Sources go where the import graph says (hotgo/build/import_graph.py); a
file no service builds from goes nowhere, and the log says so. Until the graph is known (it
loads while the first builds run), a source change goes to every service: a rebuild too many is
better than one missed.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Set, Tuple

from hotgo.build.import_graph import ImportGraph
from hotgo.log import Log
from hotgo.watch.change_set import ChangeSet
from hotgo.watch.filters import PathFilter


class ChangeRouter:
    def __init__(self, names: Sequence[str], root: Path, log: Log,
                 config_filters: Dict[str, Optional[PathFilter]],
                 builds_sources: Callable[[str], bool] = lambda name: True,
                 refresh: Callable[[Set[str]], None] = lambda names: None) -> None:
        """`builds_sources(name)`: False for a prebuilt binary (artifact mode), which no source
        change concerns; `refresh(names)`: reload those services' part of the graph (in the
        background; the new graph comes back through `graph_loaded`)."""
        self.names = list(names)
        self.root = root
        self.log = log
        self.config_filters = config_filters
        self.builds_sources = builds_sources
        self.refresh = refresh
        self.graph: Optional[ImportGraph] = None

    def graph_loaded(self, graph: ImportGraph) -> None:
        self.graph = graph

    def route(self, change: ChangeSet) -> Dict[str, ChangeSet]:
        if len(self.names) == 1:
            return {self.names[0]: change}
        paths: Dict[str, List[Path]] = {name: [] for name in self.names}
        sources: List[Path] = []
        for path in change.paths:
            owners = [name for name, config in self.config_filters.items()
                      if config is not None and config.relevant(path)]
            for name in owners:
                paths[name].append(path)
            if not owners:
                sources.append(path)
        left_alone: List[Tuple[Path, str]] = []
        if sources:
            left_alone = self._route_sources(sources, paths)
        routed = {name: dataclasses.replace(change, paths=tuple(found)) for name, found in paths.items() if found}
        self._say(change, routed, left_alone)
        return routed

    def _route_sources(self, sources: List[Path], paths: Dict[str, List[Path]]) -> List[Tuple[Path, str]]:
        building = [name for name in self.names if self.builds_sources(name)]
        if self.graph is None:
            for name in building:
                paths[name].extend(sources)
            return []
        routing = self.graph.route(sources)
        for name, found in routing.by_service.items():
            if name in paths:
                paths[name].extend(found)
        # A new or deleted file, an edited import block or go.mod: those services' graphs are read
        # again (an edit inside a function body needs no go list).
        if routing.refresh:
            self.refresh(set(routing.refresh))
        return list(routing.unrouted)

    def _say(self, change: ChangeSet, routed: Dict[str, ChangeSet], left_alone: List[Tuple[Path, str]]) -> None:
        names = change.names(self.root)
        shown = ", ".join(names[:3]) + (f" (+{len(names) - 3} more)" if len(names) > 3 else "")
        affected = sorted(routed)
        untouched = [name for name in self.names if name not in routed]
        if affected:
            rest = f"; left alone: {', '.join(untouched)}" if untouched else ""
            message = f"changed: {shown} → {', '.join(affected)}{rest}"
        else:
            message = f"changed: {shown} → no service builds from {'it' if len(names) == 1 else 'them'}"
        reasons = {self._shown(path): why for path, why in left_alone}
        if reasons and not affected:
            message += f" ({next(iter(reasons.values()))})" if len(reasons) == 1 else ""
        self.log.info(message, event="change_routed", files=names, services=affected, left_alone=untouched,
                      unrouted=reasons or None)

    def _shown(self, path: Path) -> str:
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)
