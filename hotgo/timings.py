"""One line per reload: where the time from a change to the new version serving went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Optional, Sequence, Tuple

from hotgo.drain import DrainReport
from hotgo.generation import Generation
from hotgo.settings import format_duration
from hotgo.watch import ChangeSet


@dataclass
class ReloadTimings:
    change: Optional[ChangeSet] = None  # None: the first build, `hotgo reload`, a restart
    build_seconds: float = 0.0


def summary(new: Generation, timings: ReloadTimings, drained: Optional[Tuple[Generation, float]],
            report: Optional[DrainReport] = None, stop_signal: str = "SIGTERM", shared: Sequence[str] = ()) -> str:
    """`generation 3 serving · change→serving 604ms · settle 50ms · build 542ms · start→ready 9ms · …`"""
    parts: List[str] = []
    if timings.change is not None:
        parts.append(f"settle {format_duration(timings.change.settle_seconds)}")
    if timings.build_seconds:
        parts.append(f"build {format_duration(timings.build_seconds)}")
    parts.append(f"start→ready {format_duration(new.ready_at - new.started)}")
    if drained is not None:
        drain = f"drain of generation {drained[0].number} {format_duration(drained[1])}"
        if report is not None:
            drain += f" ({report.describe(stop_signal)})"
        parts.append(drain)
    total = ""
    if timings.change is not None:
        total = f" · change→serving {format_duration(new.ready_at - timings.change.first_event)}"
    where = ""
    if new.own_listen:  # never claim the shared port for a service that does not take it
        where = f" on its own port {', '.join(new.own_listen)}"
        if shared:
            where += f" (not on the shared {', '.join(shared)})"
    return f"generation {new.number} serving{where}{total} · " + " · ".join(parts)
