"""One line per reload: where the time from a change to the new version serving went."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from hotgo.generation import Generation
from hotgo.settings import format_duration
from hotgo.watch import ChangeSet


@dataclass
class ReloadTimings:
    change: Optional[ChangeSet] = None  # None: the first build, `hotgo reload`, a restart
    build_seconds: float = 0.0


def summary(new: Generation, timings: ReloadTimings, drained: Optional[Tuple[Generation, float]]) -> str:
    """`generation 3 serving · change→serving 604ms · settle 50ms · build 542ms · start→ready 9ms · …`"""
    parts = []
    if timings.change is not None:
        parts.append(f"settle {format_duration(timings.change.settle_seconds)}")
    if timings.build_seconds:
        parts.append(f"build {format_duration(timings.build_seconds)}")
    parts.append(f"start→ready {format_duration(new.ready_at - new.started)}")
    if drained is not None:
        parts.append(f"drain of generation {drained[0].number} {format_duration(drained[1])}")
    total = ""
    if timings.change is not None:
        total = f" · change→serving {format_duration(new.ready_at - timings.change.first_event)}"
    return f"generation {new.number} serving{total} · " + " · ".join(parts)
