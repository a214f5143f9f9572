"""How a push ended, and the record of the last one that `hotgo status` shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List

from hotgo.choices import Kind


class PushOutcome(Kind):
    """How a push ended; never a guessed success."""

    CONFIRMED = "confirmed"  # the service said it took the config
    FAILED = "failed"  # refused by the check or the service, or no answer from one that answers
    UNCONFIRMED = "unconfirmed"  # sent; the service gives no answer it could
    NONE = "none"  # nothing pushed yet


@dataclass
class PushRecord:
    """The last push, as `hotgo status` shows it."""

    when: float = 0.0
    files: List[str] = field(default_factory=list)
    result: PushOutcome = PushOutcome.NONE
    message: str = ""
    generation: int = 0
