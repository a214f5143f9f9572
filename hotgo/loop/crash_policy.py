"""What to do when the serving process exits on its own: restart with backoff, report a loop, give up.

A crash soon after start (within CRASH_WINDOW) continues the streak; a process that lived longer
starts a new one. The delay doubles from BACKOFF_FIRST up to BACKOFF_CAP. After CRASH_GIVE_UP
quick crashes the build is given up on (the supervisor rolls back if it can).
"""

from __future__ import annotations

from dataclasses import dataclass

CRASH_WINDOW = 10.0  # a process that dies sooner than this after start counts towards a crash loop
CRASH_LOOP = 3
CRASH_GIVE_UP = 5
BACKOFF_FIRST = 0.5
BACKOFF_CAP = 30.0


@dataclass(frozen=True)
class CrashVerdict:
    streak: int  # quick crashes in a row, this one included
    delay: float  # seconds before the restart
    loop: bool  # report it as a crash loop
    give_up: bool  # stop restarting this build


class CrashPolicy:
    def __init__(self) -> None:
        self.streak = 0

    def crashed(self, lived: float) -> CrashVerdict:
        self.streak = self.streak + 1 if lived < CRASH_WINDOW else 1
        delay = min(BACKOFF_FIRST * 2 ** (self.streak - 1), BACKOFF_CAP)
        return CrashVerdict(self.streak, delay, self.streak >= CRASH_LOOP, self.streak >= CRASH_GIVE_UP)

    def reset(self) -> None:
        """A new build or a rollback: the next crash starts a new streak."""
        self.streak = 0
