"""Which steps a set of changed files triggers: each step's `watch` globs, read as [watch] include is read
(hotgo.watch.filters: relative to the module root, `**` spans directories, a glob without '/' matches a
name at any depth; editor temp files never match)."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, Iterable, List, Sequence, Tuple

from hotgo.generate.steps import GenerateStep
from hotgo.watch.filters import PathFilter

_filters: Dict[Tuple[Path, Tuple[str, ...]], PathFilter] = {}


def trigger_filter(step: GenerateStep, root: Path) -> PathFilter:
    """The step's globs as a filter under `root` (compiled once per step and root)."""
    key = (root, step.watch)
    found = _filters.get(key)
    if found is None:
        found = _filters[key] = PathFilter(root, step.watch, ())
    return found


def triggers(steps: Sequence[GenerateStep], paths: Iterable[Path], root: Path
             ) -> List[Tuple[GenerateStep, Tuple[Path, ...]]]:
    """The steps that `paths` trigger, in the order they are declared, each with the paths that trigger it."""
    paths = list(paths)
    found = []
    for step in steps:
        matching = trigger_filter(step, root)
        hits = tuple(path for path in paths if matching.relevant(path))
        if hits:
            found.append((step, hits))
    return found


def triggering(steps: Sequence[GenerateStep], path: Path, root: Path) -> bool:
    """True when `path` triggers any step."""
    return any(trigger_filter(step, root).relevant(path) for step in steps)
