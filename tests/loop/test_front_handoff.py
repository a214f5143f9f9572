"""The front door's part in a handoff (hotgo/loop/front_handoff.py), driven by scripted histories:
a fake front door records the commands; its answers, the old generation's listener and the clock
are the test's. Nothing here waits: the loop acts when an answer comes or a deadline passes."""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from scripted import Script

from hotgo.browser.front_door import FrontAnswered, FrontDoor
from hotgo.loop import front_handoff
from hotgo.loop.front_handoff import BLIND_WAIT, HOLD_WAIT, LISTENER_WAIT, FrontHandoff


class FakeDoor(FrontDoor):
    def __init__(self) -> None:  # no process
        self.sent: List[Tuple[str, int]] = []

    def send(self, command: str, wait: Optional[float] = None) -> int:
        self.sent.append((command, len(self.sent) + 1))
        return len(self.sent)

    def commands(self) -> List[str]:
        return [command for command, _ in self.sent]

    def last(self, command: str) -> int:
        return [ask for name, ask in self.sent if name == command][-1]


class Listener:
    """What hotgo sees of each old generation's listener: accepting, closed, or not visible (None)."""

    def __init__(self) -> None:
        self.accepting: Dict[int, Optional[bool]] = {}

    def __call__(self, pid: int, port: int, inodes: object) -> Optional[bool]:
        return self.accepting.get(pid, True)


@pytest.fixture
def listener(monkeypatch: pytest.MonkeyPatch) -> Listener:
    seen = Listener()
    monkeypatch.setattr(front_handoff, "still_accepting", seen)
    return seen


def with_front(script: Script) -> FakeDoor:
    door = FakeDoor()
    supervisor = script.supervisor
    supervisor.front = FrontHandoff(door, supervisor.service, script.log, script.clock, supervisor.after)
    return door


def second_is_ready(script: Script) -> int:
    """Generation 1 serves, a change builds 2, and 2 is ready: where a handoff behind the front door
    begins. Returns the count of actions before 2 was ready."""
    script.serve_first()
    script.changed()
    script.built(2)
    mark = len(script.actions)
    script.post(script.ready(2))
    return mark


def test_the_old_generation_stops_once_answers_have_their_heads_and_requests_go_once_it_stopped_accepting(
        tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path)
    door = with_front(script)
    script.serve_first()
    assert door.commands() == ["resume"]  # nothing to stop: the held requests go
    script.changed()
    script.built(2)
    mark = len(script.actions)
    script.post(script.ready(2))
    assert door.commands()[-1] == "hold" and script.since(mark) == []  # 1 not stopped before the answer
    script.post(FrontAnswered("held", door.last("hold"), 0))
    assert script.since(mark) == [("stop", 1, "SIGTERM")]
    script.advance(0.01)
    assert door.commands()[-1] == "hold"  # 1 still accepts: new requests wait
    listener.accepting[40001] = False
    script.advance(0.01)
    assert door.commands()[-1] == "resume"
    [resumed] = script.events("front_resume")
    assert resumed["how"] == "stopped accepting" and resumed["old"] == 1 and resumed["generation"] == 2
    assert 0.01 <= resumed["seconds"] < 0.03


def test_a_generation_that_keeps_accepting_holds_new_requests_one_second_at_most(
        tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path)
    door = with_front(script)
    second_is_ready(script)
    script.post(FrontAnswered("held", door.last("hold"), 0))
    script.advance(LISTENER_WAIT - 0.05)
    assert door.commands()[-1] == "hold"
    script.advance(0.1)
    assert door.commands()[-1] == "resume"
    assert [w["generation"] for w in script.events("front_listener_wait")] == [1]


def test_an_old_generation_gone_before_the_answer_lets_requests_go_at_once(
        tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path)
    door = with_front(script)
    script.serve_first()
    mark = len(script.actions)
    script.hand_off(2)  # 1 exits before the front door answers
    script.post(FrontAnswered("held", door.last("hold"), 0))
    assert ("stop", 1, "SIGTERM") not in script.since(mark)
    assert door.commands()[-1] == "resume"


def test_where_the_listener_cannot_be_seen_a_fixed_wait(tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path)
    door = with_front(script)
    second_is_ready(script)
    listener.accepting[40001] = None
    script.post(FrontAnswered("held", door.last("hold"), 0))
    script.advance(BLIND_WAIT - 0.01)
    assert door.commands()[-1] == "hold"
    script.advance(0.02)
    assert door.commands()[-1] == "resume"
    assert script.events("front_resume")[-1]["how"] == "not seen: a fixed wait"


def test_a_hold_unanswered_stops_the_old_generation_at_its_deadline(tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path)
    door = with_front(script)
    mark = second_is_ready(script)
    script.advance(HOLD_WAIT + 0.5)
    assert script.since(mark) == []
    script.advance(0.6)
    assert script.since(mark) == [("stop", 1, "SIGTERM")]
    assert [w["command"] for w in script.events("front_late")] == ["hold"]
    script.post(FrontAnswered("held", door.last("hold"), 0))  # late: nothing more happens
    assert script.since(mark) == [("stop", 1, "SIGTERM")]


def test_stop_then_start_pauses_first_and_resumes_when_the_next_is_ready(tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path, run_socket="none")
    door = with_front(script)
    script.serve_first()
    script.changed()
    mark = len(script.actions)
    script.built(2)
    assert door.commands()[-1] == "pause" and script.since(mark) == []  # its requests are answered first
    script.post(FrontAnswered("paused", door.last("pause"), 0))
    assert script.since(mark) == [("stop", 1, "SIGTERM")]
    script.post(script.exited(1, 0))
    assert script.since(mark)[-1] == ("start", 2, "svc-2")
    assert door.commands()[-1] == "pause"  # held through the gap
    script.post(script.ready(2))
    assert door.commands()[-1] == "resume"


def test_a_newer_build_replaces_the_one_waiting_for_the_old_generation_to_stop(
        tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path, run_socket="none")
    door = with_front(script)
    script.serve_first()
    script.changed()
    script.built(2)
    script.changed()
    mark = len(script.actions)
    script.built(3)
    assert [a for a in script.since(mark) if a[0] == "start"] == []  # 1 still runs
    script.post(FrontAnswered("paused", door.last("pause"), 0))
    script.post(script.exited(1, 0))
    starts = [a for a in script.since(mark) if a[0] == "start"]
    assert starts == [("start", 3, "svc-3")]


def test_when_the_front_door_is_gone_the_handoff_goes_on(tmp_path: Path, listener: Listener) -> None:
    script = Script(tmp_path)
    door = with_front(script)
    mark = second_is_ready(script)
    script.post(FrontAnswered("gone", 0, 0))
    assert script.since(mark) == [("stop", 1, "SIGTERM")]
    assert len(script.events("front_gone")) == 1
    assert door.commands()[-1] == "hold"
