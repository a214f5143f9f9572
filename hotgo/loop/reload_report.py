"""One line per reload: where the time from a change to the new version serving went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

from hotgo.handoff.drain import DrainReport
from hotgo.handoff.generation import Generation
from hotgo.log import Log
from hotgo.settings.schema import format_duration
from hotgo.watch.change_set import ChangeSet


@dataclass
class ReloadTimings:
    change: Optional[ChangeSet] = None  # None: the first build, `hotgo reload`, a restart
    build_seconds: float = 0.0
    build_started: float = 0.0  # monotonic
    build_ended: float = 0.0


def _ms(seconds: float) -> str:
    """Short steps keep a decimal: '0.4ms' says more than '0ms'."""
    return f"{seconds * 1000:.1f}ms" if seconds < 0.01 else format_duration(seconds)


def summary(new: Generation, timings: ReloadTimings, drained: Optional[Tuple[Generation, float]],
            report: Optional[DrainReport] = None, stop_signal: str = "SIGTERM", shared: Sequence[str] = ()) -> str:
    """`generation 3 serving · change→serving 365ms · settle 0.3ms (write closed: no wait) · hash 0.2ms · →build 1.1ms ·
    build 352ms · →start 1.0ms · start→ready 9ms · drain of generation 2 12ms (16 connections open at SIGTERM: …)`"""
    parts: List[str] = []
    change = timings.change
    if change is not None:
        how = " (write closed: no wait)" if change.early else ""
        parts.append(f"settle {_ms(change.settle_seconds)}{how}")
        if change.hashed:
            parts.append(f"hash {_ms(change.hash_seconds)}")
            if timings.build_started:
                parts.append(f"→build {_ms(max(0.0, timings.build_started - change.hashed))}")
    if timings.build_seconds:
        parts.append(f"build {format_duration(timings.build_seconds)}")
        if timings.build_ended:
            parts.append(f"→start {_ms(max(0.0, new.started - timings.build_ended))}")
    parts.append(f"start→ready {_ms(new.ready_at - new.started)}")
    if drained is not None:
        drain = f"drain of generation {drained[0].number} {format_duration(drained[1])}"
        if report is not None:
            drain += f" ({report.describe(stop_signal)})"
        parts.append(drain)
    total = ""
    if change is not None:
        total = f" · change→serving {format_duration(new.ready_at - change.first_event)}"
    where = ""
    if new.own_listen:  # never claim the shared port for a service that does not take it
        where = f" on its own port {', '.join(new.own_listen)}"
        if shared:
            where += f" (not on the shared {', '.join(shared)})"
    return f"generation {new.number} serving{where}{total} · " + " · ".join(parts)


class ReloadReports:
    """The measured steps of each reload under way, until its summary line (the `done` event)."""

    def __init__(self, log: Log, stop_signal: str, shared: Sequence[str]) -> None:
        self._log = log
        self._stop_signal = stop_signal
        self._shared = list(shared)
        self._timings: Dict[int, ReloadTimings] = {}

    def begin(self, number: int, change: Optional[ChangeSet], build_started: float) -> None:
        self._timings[number] = ReloadTimings(change=change, build_started=build_started)

    def built(self, number: int, seconds: float, ended: float) -> None:
        timings = self._timings.setdefault(number, ReloadTimings())
        timings.build_seconds = seconds
        timings.build_ended = ended

    def build_ended(self, number: int) -> float:
        return self._timings.get(number, ReloadTimings()).build_ended

    def drop(self, number: int) -> None:
        """A build cancelled, dropped or failed: no summary will come (and nothing may pile up)."""
        self._timings.pop(number, None)

    def done(self, new: Generation, drained: Optional[Tuple[Generation, float]] = None,
             report: Optional[DrainReport] = None) -> None:
        line = summary(new, self._timings.pop(new.number, ReloadTimings()), drained, report,
                       self._stop_signal, self._shared)
        self._log.ok(line, event="done", generation=new.number, pid=new.pid,
                     **(report.fields() if report is not None else {}))
