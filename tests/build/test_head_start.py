"""Generation 1's build starts before the loop exists; the loop gets its result whenever it came."""

from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Callable, List

from hotgo.build.go_build import Build, BuildResult
from hotgo.build.head_start import HeadStart
from hotgo.log import Log


class RecordedBuild(Build):
    """A Build that runs no go: what was asked of it is recorded, the test delivers the result."""

    def __init__(self, done: Callable[[BuildResult], None], actions: List[str]) -> None:
        super().__init__("go", Path("."), ".", Path("bin/svc-1"), 1, [], {}, Log(io.StringIO()), done)
        self.actions = actions
        self.deliver = done

    def start(self) -> None:
        self.actions.append("start")

    def cancel(self) -> None:
        self.actions.append("cancel")


def result(ok: bool = True) -> BuildResult:
    return BuildResult(1, Path("bin/svc-1"), ok, 0.5)


def head_start(actions: List[str]) -> HeadStart:
    return HeadStart(lambda done: RecordedBuild(done, actions))


def test_a_result_before_the_loop_took_the_build_is_delivered_when_it_does() -> None:
    actions: List[str] = []
    head = head_start(actions)
    assert actions == ["start"]
    built = result()
    assert isinstance(head.build, RecordedBuild)
    head.build.deliver(built)
    got: List[BuildResult] = []
    assert head.adopt(got.append) is head.build
    assert got == [built]


def test_a_result_after_the_loop_took_the_build_goes_straight_to_it() -> None:
    head = head_start([])
    got: List[BuildResult] = []
    head.adopt(got.append)
    assert got == []
    assert isinstance(head.build, RecordedBuild)
    head.build.deliver(result(ok=False))
    assert [r.ok for r in got] == [False]


def test_abandoning_waits_until_the_build_has_ended() -> None:
    actions: List[str] = []
    head = head_start(actions)
    assert isinstance(head.build, RecordedBuild)
    build = head.build
    ended = threading.Timer(0.05, lambda: build.deliver(result()))  # go, killed, reaped a moment later
    ended.start()
    started = time.monotonic()
    head.abandon(wait=10)
    assert 0.04 <= time.monotonic() - started < 5, "abandon returned before the build had ended"
    assert actions == ["start", "cancel"]
    ended.join()


def test_abandoned_before_the_loop_ran_it_is_cancelled_and_after_it_is_not() -> None:
    actions: List[str] = []
    head_start(actions).abandon(wait=0.01)  # this fake never ends: the wait is bounded
    assert actions == ["start", "cancel"]

    actions.clear()
    adopted = head_start(actions)
    adopted.adopt(lambda _result: None)
    adopted.abandon()  # hotgo's exit: the loop ended the build itself
    assert actions == ["start"]
