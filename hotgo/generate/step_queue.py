"""Which step runs next: one step at a time, and a step asked for again while it runs runs once more after.

Steps run one after the other, not side by side: each run's snapshot/diff of the tree then sees only
its own writes, and two generators never write one file at once. A step asked for while it runs is
queued once, however many times it is asked (ten saves during a run: one run more, with the last
bytes). Used from the loop's thread only: not locked.
"""

from __future__ import annotations

from typing import List, Optional

from hotgo.generate.steps import GenerateStep


class StepQueue:
    def __init__(self) -> None:
        self._pending: List[GenerateStep] = []  # in the order asked; each at most once
        self.running: Optional[GenerateStep] = None

    def add(self, step: GenerateStep) -> bool:
        """Ask for a run of `step`; False when one is already waiting (the request is folded into it)."""
        if step in self._pending:
            return False
        self._pending.append(step)
        return True

    def next(self) -> Optional[GenerateStep]:
        """The step to start now (it is then `running`), or None: one is running, or none is waiting."""
        if self.running is not None or not self._pending:
            return None
        self.running = self._pending.pop(0)
        return self.running

    def done(self, step: GenerateStep) -> None:
        """The run of `step` has ended (its result reached the loop): the next one may start."""
        if self.running == step:
            self.running = None

    def clear(self) -> List[GenerateStep]:
        """Forget the waiting steps (hotgo stops); the running one is cancelled by its owner."""
        pending, self._pending = self._pending, []
        return pending

    @property
    def busy(self) -> bool:
        """A step runs or waits: the tree is not settled yet, hold builds until it is."""
        return self.running is not None or bool(self._pending)

    @property
    def pending(self) -> List[GenerateStep]:
        return list(self._pending)
