"""The generations alive, which one serves, which one is starting, and who gets the next number."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

from hotgo.handoff.generation import Generation, State


class Lineup:
    def __init__(self) -> None:
        self.generations: Dict[int, Generation] = {}  # the living ones (a daemon may reload for months)
        self.serving: Optional[Generation] = None  # READY, or stopped on its own and not replaced yet
        self.candidate: Optional[Generation] = None  # STARTING
        # Stop-then-start (mode none, a service on its own port): started once nothing is alive.
        self.waiting: Optional[Tuple[int, Path]] = None
        self._next = 1

    def new_number(self) -> int:
        """Generation numbers: one place hands them out, from 1, never reused."""
        number = self._next
        self._next += 1
        return number

    def add(self, generation: Generation) -> None:
        self.generations[generation.number] = generation

    def get(self, number: int) -> Optional[Generation]:
        return self.generations.get(number)

    def forget(self, number: int) -> None:
        self.generations.pop(number, None)

    def alive(self) -> List[Generation]:
        return [g for g in self.generations.values() if g.state is not State.STOPPED]

    def live_serving(self) -> Optional[Generation]:
        """The serving generation while its process runs."""
        if self.serving is not None and self.serving.state is not State.STOPPED:
            return self.serving
        return None

    def still_serving(self) -> str:
        """How a failure ends for users: said after every failed build, start or deploy."""
        serving = self.live_serving()
        if serving is not None:
            return f"generation {serving.number} keeps serving"
        return "nothing is serving; waiting for the next change"
