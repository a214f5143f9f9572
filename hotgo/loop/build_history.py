"""Which builds have served, oldest first: what rollback walks back through."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence

from hotgo.build.go_build import BuildFiles, prune_builds


class BuildHistory:
    """Binaries that became ready, oldest first; rollback walks back through them.

    Only the newest `keep` are remembered (`build.keep`): older builds are deleted from disk
    anyway, so rollback could never reach them, and a staging hotgo deploys a new file per
    reload all day.
    """

    def __init__(self, keep: int = 3) -> None:
        self.keep = max(1, keep)
        self.good: List[Path] = []

    def prune(self, files: BuildFiles, in_use: Sequence[Path]) -> None:
        """Delete all but the newest `keep` builds from disk, sparing those in use and the good ones
        rollback may still reach."""
        prune_builds(files.bin_dir, files.name, self.keep, [*in_use, *self.good[-self.keep:]])

    def mark_good(self, binary: Path) -> None:
        if binary not in self.good:
            self.good.append(binary)
            del self.good[: -self.keep]

    def before(self, binary: Optional[Path]) -> Optional[Path]:
        """The newest good build older than `binary` that still exists on disk."""
        if binary is None or binary not in self.good:
            return None
        for candidate in reversed(self.good[: self.good.index(binary)]):
            if candidate.exists():
                return candidate
        return None

    def gone_before(self, binary: Optional[Path]) -> List[Path]:
        """The good builds older than `binary` that `before` passes over, their files gone (pruned or
        deleted), newest first: all of them when no older one is left."""
        if binary is None or binary not in self.good:
            return []
        gone: List[Path] = []
        for candidate in reversed(self.good[: self.good.index(binary)]):
            if candidate.exists():
                break
            gone.append(candidate)
        return gone
