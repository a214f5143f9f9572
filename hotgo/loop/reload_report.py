"""One line per reload: where the time from a change to the new version serving went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from hotgo.handoff.drain import DrainReport
from hotgo.handoff.generation import Generation
from hotgo.settings.schema import format_duration
from hotgo.watch.watcher import ChangeSet


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
