"""The services' import graphs, read by `go list -deps` off the loop: at start, then again for the
services a change may have given new imports. One read at a time; what is asked meanwhile is read
next, together. A read that fails (a go.mod being edited) keeps the graph there was: the builds say
what is wrong."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Dict, Mapping, Optional, Set

from hotgo.build.import_graph import ImportGraph, ServiceSpec
from hotgo.build.service_deps import ServiceDeps, load_deps
from hotgo.log import Log


@dataclass(frozen=True)
class GraphRead:
    """Posted to the loop when a read ended."""

    fresh: Mapping[str, ServiceDeps]
    error: str = ""


class GraphUpdates:
    def __init__(self, go: str, specs: Mapping[str, ServiceSpec], post: Callable[[GraphRead], None], log: Log,
                 loaded: Callable[[ImportGraph], None]) -> None:
        self._go = go
        self._specs = dict(specs)
        self._post = post
        self._log = log
        self._loaded = loaded  # the router's: the graph it routes by from now on
        self.graph: Optional[ImportGraph] = None
        self._reading = False
        self._wanted: Set[str] = set()

    def read(self, names: Set[str]) -> None:
        """On the loop: read these services' graphs again (all of them at first)."""
        self._wanted |= {name for name in names if name in self._specs}
        if not self._reading and self._wanted:
            wanted, self._wanted = self._wanted, set()
            self._reading = True
            threading.Thread(target=self._read, args=(wanted,), name="hotgo-import-graph", daemon=True).start()

    def done(self, event: GraphRead) -> None:
        """On the loop: the read ended; the next one starts if something was asked meanwhile."""
        self._reading = False
        if event.error:
            routed = "every service" if self.graph is None else "the services the last graph read names"
            self._log.warn(f"could not read the import graph ({event.error}); a change goes to {routed}",
                           event="import_graph_failed", error=event.error)
        elif event.fresh:
            self.graph = self.graph.replaced(event.fresh) if self.graph is not None else ImportGraph(event.fresh)
            self._loaded(self.graph)
        self.read(set())

    def _read(self, names: Set[str]) -> None:
        fresh: Dict[str, ServiceDeps] = {}
        try:
            workers = max(1, min(len(names), os.cpu_count() or 1))
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hotgo-go-list") as pool:
                futures = {name: pool.submit(load_deps, self._go, *self._specs[name]) for name in names}
                fresh = {name: future.result() for name, future in futures.items()}
        except Exception as err:  # go list's own failure, said in one line; the loop keeps the old graph
            self._post(GraphRead({}, str(err).splitlines()[0] if str(err) else repr(err)))
            return
        self._post(GraphRead(fresh))
