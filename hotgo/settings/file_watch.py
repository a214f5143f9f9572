"""hotgo.toml edited (or created, or removed) while hotgo runs: say so, and which keys.

Nothing is applied live: sockets, the watch tree, the build and the push
method are set up once at start, so a half-applied file would be harder to
reason about than a clear "restart to apply". The keys named are the ones
whose value now differs from the value in effect; an invalid file gets the
same file:line message as at start. The file is polled (twice a second,
stat only): it may live outside the watched tree (`--config`).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from hotgo.errors import UsageError
from hotgo.log import Log
from hotgo.settings import toml_file
from hotgo.settings.schema import SETTINGS, Value

POLL_SECONDS = 0.5
Signature = Optional[Tuple[int, int, int]]


def _signature(path: Path) -> Signature:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


Values = Dict[str, Dict[str, Value]]  # "" (the top level) or a service's name: its values


def _values(path: Path) -> Values:
    if not path.is_file():
        return {}
    loaded = toml_file.load_file(path)
    return {"": loaded.values, **{service.name: service.values for service in loaded.services}}


def changed_keys(before: Values, after: Values) -> List[str]:
    """`[section] key` of every setting whose value differs, in declaration order; a service's
    keys as `[services.NAME] key`."""
    keys: List[str] = []
    for table in dict.fromkeys([*before, *after]):
        old, new = before.get(table, {}), after.get(table, {})
        keys += [f"[services.{table}] {s.key}" if table else f"[{s.section}] {s.key}" for s in SETTINGS
                 if old.get(s.dest, s.default) != new.get(s.dest, s.default)]
    return keys


class SettingsFileWatch:
    def __init__(self, path: Path, log: Log) -> None:
        self.path = path
        self.log = log
        self._existed = path.is_file()
        try:
            self._in_effect = _values(path)
        except UsageError:
            self._in_effect = {}  # hotgo would not have started with it; keep watching anyway
        self._seen = _signature(path)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, name="hotgo-settings-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _poll(self) -> None:
        pending: Signature = self._seen
        while not self._stop.wait(POLL_SECONDS):
            now = _signature(self.path)
            if now == self._seen:
                pending = now
                continue
            if now != pending:  # still being written: look again at the next tick
                pending = now
                continue
            self._seen = now
            self._report()

    def _report(self) -> None:
        name = self.path.name
        if not self.path.is_file():
            self.log.warn(f"{name} removed while running; the settings in effect stay until hotgo restarts",
                          event="settings_changed")
            return
        try:
            now = _values(self.path)
        except UsageError as err:
            self.log.error(f"{err} — not applied: hotgo keeps running with the settings it started with",
                           event="settings_changed")
            return
        keys = changed_keys(self._in_effect, now)
        what = "created" if not self._existed else "changed"
        if not keys:
            self.log.info(f"{name} {what}: no setting differs from the ones in effect", event="settings_changed")
            return
        self.log.warn(f"{name} {what}: {', '.join(keys)} — not applied until hotgo restarts "
                      "(`hotgo stop`, then `hotgo run`; flags still win over the file)",
                      event="settings_changed", keys=keys)
