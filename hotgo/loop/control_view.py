"""`hotgo status|reload|rollback|stop`, answered on the loop from its state."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Dict

from hotgo.control.status_text import iso
from hotgo.log import Log
from hotgo.loop.build_history import BuildHistory
from hotgo.loop.builds import Builds
from hotgo.loop.lineup import Lineup
from hotgo.loop.service import Service
from hotgo.loop.status_note import StatusNote
from hotgo.push.pusher import ConfigPusher


class ControlView:
    def __init__(self, service: Service, lineup: Lineup, builds: Builds, pusher: ConfigPusher, note: StatusNote,
                 history: BuildHistory, log: Log, *, stopping: Callable[[], bool],
                 hand_off: Callable[[int, Path], None], stop: Callable[[], None]) -> None:
        self._service = service
        self._lineup = lineup
        self._builds = builds
        self._pusher = pusher
        self._note = note
        self._history = history
        self._log = log
        self._stopping = stopping
        self._hand_off = hand_off  # a zero-downtime handoff to this binary as this generation
        self._stop = stop

    def answer(self, command: str) -> Dict[str, Any]:
        if command == "status":
            return {"ok": True, "status": self.status()}
        if command == "reload":
            if self._stopping():
                return {"ok": False, "error": "hotgo is stopping"}
            self._builds.start(None)
            artifact = self._service.artifact
            return {"ok": True, "message": "rebuilding and handing off" if artifact is None
                    else f"redeploying {artifact}"}
        if command == "rollback":
            return self.rollback()
        if command == "stop":
            self._stop()
            return {"ok": True, "message": "draining and stopping", "pid": os.getpid()}
        return {"ok": False, "error": f"unknown command {command!r}"}

    def rollback(self) -> Dict[str, Any]:
        serving = self._lineup.serving
        current = serving.binary if serving is not None else None
        target = self._history.before(current)
        if target is None or self._stopping():
            return self._no_rollback()
        gone = self._history.gone_before(current)  # builds that served in between, no longer on disk
        skipped = f"; skipped {', '.join(p.name for p in gone)} (no longer in {gone[0].parent})" if gone else ""
        number = self._lineup.new_number()
        self._log.info(f"rollback: handing off to {target.name} as generation {number}{skipped}", event="rollback",
                       generation=number, skipped=[p.name for p in gone])
        self._hand_off(number, target)
        return {"ok": True, "message": f"rolling back to {target.name} (generation {number}){skipped}"}

    def _no_rollback(self) -> Dict[str, Any]:
        serving = self._lineup.serving
        gone = self._history.gone_before(serving.binary if serving is not None else None)
        served = [p.name for p in self._history.good]
        shown = ", ".join(served[-3:]) or "none"  # the newest few: a daemon may have served thousands
        if len(served) > 3:
            shown = f"{shown} (and {len(served) - 3} older)"
        why = "the files of those before it are gone, pruned or deleted; " if gone else ""
        return {"ok": False, "error": f"no earlier good build is kept ({why}build.keep = "
                                      f"{self._service.settings.build_keep}; latest builds that served: {shown})"}

    def status(self) -> Dict[str, Any]:
        current = self._lineup.serving or self._lineup.candidate
        push = self._pusher.last
        return {
            "generation": current.number if current else 0,
            "pid": current.pid if current else 0,
            "binary": str(current.binary) if current else "",
            "started_at": iso(current.started_wall) if current else "",
            "state": current.state.value if current else "stopped",
            "last_build": dict(self._builds.last),
            "last_config_push": {"result": push.result, "when": iso(push.when), "files": push.files,
                                 "message": push.message, "generation": push.generation},
            "socket": self._service.mode.value,
            "listen": self._service.shown_addresses,
            "hotgo_pid": os.getpid(),
            "note": self._note.text,
            "rollback_to": str(self._history.before(current.binary) or "") if current else "",
            "generations": [{"generation": g.number, "pid": g.pid, "state": g.state.value, "binary": str(g.binary)}
                            for g in self._lineup.alive()],
        }
