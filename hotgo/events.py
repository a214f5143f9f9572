"""What the supervisor's loop reacts to. Threads only post these; the loop decides."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Union

from hotgo.build import BuildResult
from hotgo.notify import Message
from hotgo.push import ConfigChecked, PushAnswered
from hotgo.watch import ChangeSet


@dataclass(frozen=True)
class FilesChanged:
    change: ChangeSet


@dataclass(frozen=True)
class BuildDone:
    result: BuildResult


@dataclass(frozen=True)
class Notified:
    generation: int
    message: Message


@dataclass(frozen=True)
class ProbeReady:
    generation: int
    how: str  # what made it count as ready, for the log


@dataclass(frozen=True)
class Exited:
    generation: int
    code: int


@dataclass(frozen=True)
class StopRequested:
    reason: str


Event = Union[FilesChanged, BuildDone, Notified, ProbeReady, Exited, StopRequested, ConfigChecked, PushAnswered]
