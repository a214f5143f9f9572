"""The one line `hotgo status` shows about a state worth knowing: a crash loop, a build given up, a
service that binds its port itself."""

from __future__ import annotations

from pathlib import Path
from typing import FrozenSet, Iterable


class StatusNote:
    def __init__(self) -> None:
        self.text = ""
        self._binaries: FrozenSet[Path] = frozenset()  # the builds it is about: kept while one serves
        self._lasting = False  # about the service itself, not one build: never cleared

    def set(self, text: str, binaries: Iterable[Path] = (), lasting: bool = False) -> None:
        self.text = text
        self._binaries = frozenset(binaries)
        self._lasting = self._lasting or lasting

    def serving(self, binary: Path) -> None:
        """A build became ready: a note about other builds is over."""
        if binary not in self._binaries and not self._lasting:
            self.text, self._binaries = "", frozenset()
