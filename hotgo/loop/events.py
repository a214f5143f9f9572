"""What the supervisor's loop reacts to. Threads only post these; the loop decides."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Union

from hotgo.browser.front_door import FrontAnswered
from hotgo.build.go_build import BuildResult
from hotgo.handoff.drain import DrainReport
from hotgo.handoff.notify import Message
from hotgo.handoff.readiness import Observed
from hotgo.loop.generate_steps import StepDone
from hotgo.loop.graph_updates import GraphRead
from hotgo.push.pusher import ConfigChecked, PushAnswered
from hotgo.watch.change_set import ChangeSet


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
class SocketSeen:
    generation: int
    observed: Observed  # what the socket watch saw it do


@dataclass(frozen=True)
class DrainReported:
    generation: int  # the old generation
    report: DrainReport


@dataclass(frozen=True)
class Exited:
    generation: int
    code: int


@dataclass(frozen=True)
class ArtifactChanged:
    path: Path  # the binary as resolved when it settled


class ReplySlot:
    """Where the loop puts the answer to a control request; the control thread waits on it."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.reply: Dict[str, Any] = {}

    def answer(self, reply: Dict[str, Any]) -> None:
        self.reply = reply
        self.done.set()


@dataclass(frozen=True)
class ControlRequest:
    command: str
    slot: ReplySlot
    service: str = ""  # `hotgo reload NAME`: one service of several ("" = all, or the only one)


@dataclass(frozen=True)
class ReopenLog:
    pass


@dataclass(frozen=True)
class StopRequested:
    reason: str


@dataclass(frozen=True)
class Deferred:
    """Run on the loop after every event posted before it (FIFO): "after what is queued"."""

    action: Callable[[], None]


@dataclass(frozen=True)
class ForService:
    """An event one supervisor's own threads posted (several services: hotgo/loop/fleet.py)."""

    name: str
    event: Event


Event = Union[
    ForService, FilesChanged, BuildDone, Notified, ProbeReady, SocketSeen, DrainReported, Exited, StopRequested,
    ConfigChecked, PushAnswered, ArtifactChanged, ControlRequest, ReopenLog, Deferred, StepDone, GraphRead,
    FrontAnswered,
]
