"""What pages open through the browser proxy are told: which generation serves, whether the last build failed.

The supervisor's loop calls the hooks below (they never block it); the proxy's
event-stream handlers wait on `changed` and send the whole state each time,
so a page that was away (hotgo restarted, a laptop slept) catches up on reconnect.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import asdict, dataclass, replace
from typing import Any, Dict, List, Optional, Tuple

from hotgo.handoff.listening import wait_stopped_accepting
from hotgo.log import Log


@dataclass(frozen=True)
class PageState:
    # A fresh token per hotgo start: generation numbers start again at 1 then.
    run: str
    generation: int = 0  # ready and the only one accepting; 0 = none yet
    config: int = 0  # config pushes that should reload pages
    failed: Optional[Dict[str, Any]] = None  # {"generation": n, "errors": [...]} while the last build failed

    def to_json(self) -> Dict[str, Any]:
        return asdict(self)


class LiveReload:
    def __init__(self, port: int, drain_timeout: float, reload_on_config: bool, log: Log) -> None:
        self.port = port  # the shared port whose old listener must be gone before pages reload
        self.drain_timeout = drain_timeout
        self.reload_on_config = reload_on_config
        self.log = log
        self._state = PageState(run=secrets.token_hex(6))
        self._version = 0
        self._changed = threading.Condition()
        self._closed = False

    # -- read by the proxy ---------------------------------------------------------
    def snapshot(self) -> PageState:
        with self._changed:
            return self._state

    def wait_change(self, seen: int, timeout: float) -> Tuple[int, PageState]:
        """The state once its version differs from `seen` (or after `timeout`, unchanged)."""
        with self._changed:
            self._changed.wait_for(lambda: self._version != seen or self._closed, timeout)
            return self._version, self._state

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def _update(self, **changes: Any) -> None:
        with self._changed:
            self._state = replace(self._state, **changes)
            self._version += 1
            self._changed.notify_all()

    # -- hooks called by the supervisor -----------------------------------------------
    def build_failed(self, generation: int, lines: List[str]) -> None:
        self._update(failed={"generation": generation, "errors": lines[:50]})

    def build_ok(self) -> None:
        if self.snapshot().failed is not None:
            self._update(failed=None)

    def ready(self, generation: int, old_pid: Optional[int]) -> None:
        """`generation` is ready; pages reload once `old_pid` (the one it replaces) stops accepting."""
        if old_pid is None:
            self._announce(generation)
            return

        def when_old_stopped() -> None:
            if not wait_stopped_accepting(old_pid, self.port, self.drain_timeout + 2):
                self.log.warn(f"browser: generation {generation} ready but pid {old_pid} still accepts "
                              f"on port {self.port}; reloading pages anyway")
            self._announce(generation)

        threading.Thread(target=when_old_stopped, name=f"hotgo-browser-{generation}", daemon=True).start()

    def _announce(self, generation: int) -> None:
        with self._changed:  # re-entrant: _update takes it again
            if generation > self._state.generation:  # else a later one was announced meanwhile
                self._update(generation=generation)

    def config_pushed(self, generation: int) -> None:
        if self.reload_on_config:
            with self._changed:
                self._update(config=self._state.config + 1)
