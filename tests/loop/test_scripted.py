"""The handoff state machine and the config pusher, driven by scripted event histories.

No Go, no processes, no sleeping: a fake clock, fake builds and fake generations
(tests/scripted.py). Each test is a history a real run can produce, including races
that real processes make hard to reproduce, and asserts what hotgo did: the actions
on processes and the `--log-format json` events a user or a tool would read.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List

import pytest
from scripted import FakeGeneration, Pushing, Script

from hotgo import platform
from hotgo.control.status_text import describe_status
from hotgo.handoff.generation import Generation
from hotgo.handoff.readiness import OWN_PORT_GRACE, Observed
from hotgo.loop import own_port
from hotgo.loop.crash_policy import BACKOFF_FIRST, CRASH_GIVE_UP
from hotgo.loop.events import ControlRequest, ReplySlot, SocketSeen
from hotgo.platform import linux_proc
from hotgo.push.pusher import ConfigChecked
from hotgo.push.validate import Verdict
from hotgo.settings.addresses import parse_listen


@pytest.fixture
def script(tmp_path: Path) -> Script:
    return Script(tmp_path)


# -- the handoff -----------------------------------------------------------------------

def test_first_build_starts_and_serves_on_ready(script: Script) -> None:
    script.serve_first()
    assert script.actions == [("build", 1), ("start", 1, "svc-1")]
    assert script.serving == 1
    [ready] = script.events("ready")
    assert ready["generation"] == 1 and ready["how"] == "READY=1"
    started = script.supervisor.lineup.generations[1]
    assert isinstance(started, FakeGeneration)
    assert started.env["HOTGO_GENERATION"] == "1" and started.env["HOTGO_SOCKET"] == "reuseport"


def test_handoff_drains_the_old_generation_only_once_the_new_is_ready(script: Script) -> None:
    script.serve_first()
    mark = len(script.actions)
    script.changed()
    script.built(2)
    assert script.since(mark) == [("build", 2), ("start", 2, "svc-2")]  # 1 keeps serving meanwhile
    assert script.serving == 1 and script.candidate == 2
    script.clock.now += 0.2
    script.post(script.ready(2))
    assert script.since(mark)[-1] == ("stop", 1, "SIGTERM")
    script.clock.now += 0.3
    script.post(script.exited(1, 0))
    done = script.events("done")[-1]
    assert done["generation"] == 2
    assert "drain of generation 1 300ms" in done["message"]
    assert [g["generation"] for g in script.supervisor.control.status()["generations"]] == [2]


def test_a_normal_handoff_and_its_drain_warn_of_nothing(script: Script) -> None:
    # The stop reaches the old generation: no warning that it was not delivered, nor any other.
    script.serve_first()
    script.hand_off(2)
    assert ("stop", 1, "SIGTERM") in script.actions and script.serving == 2
    warnings = [record for record in script.log.records() if record["level"] in ("warn", "error")]
    assert warnings == []

def test_a_newer_change_cancels_the_build_under_way_and_its_late_result_is_ignored(script: Script) -> None:
    script.serve_first()
    script.changed()
    script.changed()
    assert ("cancel build", 2) in script.actions
    script.built(2)  # the cancelled build finishes anyway
    assert script.candidate == 0, "a stale build must not start"
    script.built(3)
    assert script.candidate == 3


def test_superseded_candidate_is_killed_and_its_late_ready_changes_nothing(script: Script) -> None:
    script.serve_first()
    script.changed()
    script.built(2)
    script.changed()
    script.built(3)
    assert ("kill", 2) in script.actions
    [superseded] = script.events("superseded")
    assert superseded["generation"] == 2 and superseded["by"] == 3
    script.post(script.ready(2))  # said READY=1 just before it was killed
    assert script.serving == 1 and script.candidate == 3
    assert not any(action[0] == "stop" for action in script.actions), "nothing may drain 1 for a dead candidate"
    script.post(script.exited(2, -9), script.ready(3))
    assert script.serving == 3
    assert ("stop", 1, "SIGTERM") in script.actions


def test_failed_build_keeps_the_serving_generation(script: Script) -> None:
    script.serve_first()
    mark = len(script.actions)
    script.changed()
    script.built(2, ok=False, output=["./main.go:3:1: syntax error: non-declaration statement outside function body"])
    assert script.since(mark) == [("build", 2)]
    assert script.serving == 1
    assert script.supervisor.control.status()["last_build"]["result"] == "failed"
    assert script.events("build_failed")


def test_not_ready_in_time_is_killed_and_the_old_keeps_serving(tmp_path: Path) -> None:
    script = Script(tmp_path, run_ready_timeout=5.0)
    script.serve_first()
    script.changed()
    script.built(2)
    script.advance(4.9)
    assert ("kill", 2) not in script.actions
    script.advance(0.2)
    assert ("kill", 2) in script.actions
    [late] = script.events("not_ready")
    assert late["generation"] == 2
    script.post(script.exited(2, -9))
    assert script.serving == 1
    assert not script.events("crashed"), "a killed candidate is not a crash"
    assert not any(action[0] == "stop" for action in script.actions)


def test_exit_before_ready_is_a_failed_start_not_a_restart(script: Script) -> None:
    script.serve_first()
    script.changed()
    script.built(2)
    script.post(script.exited(2, 1))
    [failed] = script.events("failed_start")
    assert failed["generation"] == 2 and failed["code"] == 1
    script.advance(60)
    assert script.serving == 1 and script.candidate == 0
    assert [a for a in script.actions if a[0] == "start"] == [("start", 1, "svc-1"), ("start", 2, "svc-2")]


def test_ready_racing_an_exit_follows_the_order_the_events_arrived_in(tmp_path: Path) -> None:
    # READY=1 first: it served, then crashed; the old one was already told to stop.
    first = Script(tmp_path / "a")
    first.serve_first()
    first.changed()
    first.built(2)
    first.post(first.ready(2), first.exited(2, 2))
    assert ("stop", 1, "SIGTERM") in first.actions
    [crash] = first.events("crashed")
    assert crash["generation"] == 2 and crash["restart_in"] == BACKOFF_FIRST
    first.post(first.exited(1, 0))
    first.advance(BACKOFF_FIRST)
    assert first.actions[-1] == ("start", 3, "svc-2")  # the same build, restarted
    # The exit first: a failed start; the READY=1 read after it counts for nothing.
    second = Script(tmp_path / "b")
    second.serve_first()
    second.changed()
    second.built(2)
    second.post(second.exited(2, 2), second.ready(2))
    assert second.serving == 1
    assert second.events("failed_start") and not second.events("crashed")
    assert not any(action[0] == "stop" for action in second.actions)


def test_crash_restarts_with_backoff_and_a_new_build_cancels_the_pending_restart(script: Script) -> None:
    script.serve_first()
    script.advance(20)  # lived long: the first crash of a streak
    script.post(script.exited(1, 2))
    script.advance(BACKOFF_FIRST * 0.9)
    assert script.actions[-1] == ("start", 1, "svc-1")
    script.advance(BACKOFF_FIRST * 0.2)
    assert script.actions[-1] == ("start", 2, "svc-1")
    script.post(script.ready(2))
    script.advance(1)
    script.post(script.exited(2, 2))  # quick again: the delay doubles
    assert script.events("crashed")[-1]["restart_in"] == 2 * BACKOFF_FIRST
    script.changed()
    script.built(3)  # the fix arrives before the restart is due
    script.advance(10)
    assert [a for a in script.actions if a[0] == "start"][-1] == ("start", 3, "svc-3")
    assert script.candidate == 3


def test_crash_loop_is_reported_then_given_up_with_a_rollback(script: Script) -> None:
    script.serve_first()
    script.hand_off(2)
    assert script.serving == 2
    for _crash in range(CRASH_GIVE_UP):
        number = script.serving
        script.advance(0.1)
        script.post(script.exited(number, 2))
        if not script.candidate:
            script.advance(60)  # the backoff, whatever it is
        script.post(script.ready(script.candidate))
    assert len(script.events("crash_loop")) == CRASH_GIVE_UP - 3
    [gave_up] = script.events("gave_up")
    assert "rolled back to svc-1" in gave_up["message"]
    assert script.supervisor.lineup.serving is not None and script.supervisor.lineup.serving.binary.name == "svc-1"
    assert script.supervisor.control.status()["note"].startswith("gave up on svc-2")


def test_socket_mode_none_stops_the_old_before_starting_the_new(tmp_path: Path) -> None:
    script = Script(tmp_path, run_socket="none")
    script.serve_first()
    mark = len(script.actions)
    script.changed()
    script.built(2)
    assert script.since(mark) == [("build", 2), ("stop", 1, "SIGTERM")]
    assert script.serving == 0 and script.candidate == 0
    script.clock.now += 0.05
    script.post(script.exited(1, 0))
    assert script.since(mark)[-1] == ("start", 2, "svc-2")
    script.post(script.ready(2))
    assert script.serving == 2


def test_drain_timeout_kills_an_old_generation_that_does_not_stop(tmp_path: Path) -> None:
    script = Script(tmp_path, run_drain_timeout=3.0)
    script.serve_first()
    script.changed()
    script.built(2)
    script.post(script.ready(2))
    script.advance(2.9)
    assert ("kill", 1) not in script.actions
    script.advance(0.2)
    assert ("kill", 1) in script.actions
    assert script.events("drain_timeout")[0]["generation"] == 1


def test_stop_drains_and_a_second_stop_kills_everything(script: Script) -> None:
    script.serve_first()
    script.changed()
    script.built(2)
    script.changed()  # a build under way too
    mark = len(script.actions)
    script.stop()
    assert {("cancel build", 3), ("kill", 2), ("stop", 1, "SIGTERM")} <= set(script.since(mark))
    assert ("kill", 1) not in script.since(mark), "the serving generation gets its drain"
    script.stop()
    assert ("kill", 1) in script.since(mark)
    assert script.events("kill_all")
    script.post(script.exited(2, -9), script.exited(1, -9))
    assert not script.supervisor.lineup.alive()
    script.changed()
    script.built(3)
    assert ("start", 3, "svc-3") not in script.actions, "nothing starts once stopping"


def test_rollback_hands_off_to_the_previous_good_build(script: Script) -> None:
    script.serve_first()
    script.hand_off(2)
    slot = ReplySlot()
    script.post(ControlRequest("rollback", slot))
    assert slot.reply["ok"], slot.reply
    assert script.actions[-1] == ("start", 3, "svc-1")
    script.post(script.ready(3))
    assert ("stop", 2, "SIGTERM") in script.actions
    status = script.supervisor.control.status()
    assert status["generation"] == 3 and status["binary"].endswith("svc-1")
    shown = describe_status(status)  # `hotgo status` for people
    assert shown[0].startswith("generation 3 ready · pid 40003") and "last build  ok" in shown


def test_a_process_that_cannot_start_leaves_the_old_one_serving(script: Script) -> None:
    script.serve_first()
    script.spawn_fails = True
    script.changed()
    script.built(2)
    assert script.serving == 1 and script.candidate == 0
    assert not any(action[0] in ("stop", "kill") for action in script.actions)


def test_restart_push_hands_off_to_a_fresh_process_of_the_same_build(tmp_path: Path) -> None:
    script = Script(tmp_path, config_push="restart")
    script.serve_first()
    config = tmp_path / "app.toml"
    script.post(ConfigChecked(((config, Verdict(True)),)))
    assert script.actions[-1] == ("start", 2, "svc-1")
    script.post(script.ready(2))
    [push] = script.events("config_push")
    assert push["result"] == "confirmed" and push["files"] == ["app.toml"]
    assert ("stop", 1, "SIGTERM") in script.actions


def test_ready_and_ready_timeout_due_in_the_same_turn_the_event_wins(tmp_path: Path) -> None:
    # The loop handles an event before the timers due with it: a READY=1 read at the deadline counts.
    script = Script(tmp_path / "a", run_ready_timeout=5.0)
    script.serve_first()
    script.changed()
    script.built(2)
    script.clock.now += 5.0
    script.post(script.ready(2))
    assert script.serving == 2 and ("kill", 2) not in script.actions
    assert not script.events("not_ready")
    # A moment later the deadline has been handled: the READY=1 that follows counts for nothing.
    late = Script(tmp_path / "b", run_ready_timeout=5.0)
    late.serve_first()
    late.changed()
    late.built(2)
    late.advance(5.0)
    late.post(late.ready(2))
    assert late.serving == 1 and ("kill", 2) in late.actions
    assert not any(action[0] == "stop" for action in late.actions)


@pytest.fixture
def looks(monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    """What the own-port look finds in /proc for the fake processes: set `own` and `accepting`."""
    found: Dict[str, Any] = {"own": (), "accepting": ""}
    monkeypatch.setattr(own_port, "own_listeners", lambda pid, sockets: found["own"])
    monkeypatch.setattr(linux_proc, "accepting", lambda pid, inodes: found["accepting"])
    return found


def listening_script(tmp_path: Path, socket: str = "auto") -> Script:
    """A service that never says READY=1 (readiness is observed) on --listen 127.0.0.1:8080."""
    return Script(tmp_path, run_listen=(parse_listen("127.0.0.1:8080"),), run_socket=socket, run_ready="auto")


@pytest.mark.skipif(not platform.CAPABILITIES.proc_net, reason="the own-port look reads Linux /proc")
def test_a_service_on_a_port_of_its_own_is_ready_at_once_told_later_and_reloads_stop_first(
        tmp_path: Path, looks: Dict[str, Any]) -> None:
    script = listening_script(tmp_path, "inherit")
    script.first_build()
    script.built(1)
    script.post(SocketSeen(1, Observed("accepting on the shared socket")))
    script.changed()
    script.built(2)
    script.post(SocketSeen(2, Observed("listening on its own port 127.0.0.1:9999", own=("127.0.0.1:9999",))))
    assert script.serving == 2, "ready as soon as it listens: no grace before it counts"
    assert script.events("own_port") == [], "not told yet: a metrics port may come before the shared socket"
    looks["own"] = ("127.0.0.1:9999",)
    script.advance(OWN_PORT_GRACE)
    [own] = script.events("own_port")
    assert own["generation"] == 2 and own["listen"] == ["127.0.0.1:9999"]
    mark = len(script.actions)
    script.post(script.exited(1, 0))
    script.changed()
    script.built(3)  # from now on: stop 2, then start 3 (both cannot bind that port)
    assert script.since(mark) == [("build", 3), ("stop", 2, "SIGTERM")]
    script.post(script.exited(2, 0))
    assert script.actions[-1] == ("start", 3, "svc-3")
    assert script.supervisor.readiness.expect_own_port, "the next generation is ready at its first listen"


@pytest.mark.skipif(not platform.CAPABILITIES.proc_net, reason="the own-port look reads Linux /proc")
def test_a_metrics_port_before_the_shared_socket_is_not_called_an_own_port(
        tmp_path: Path, looks: Dict[str, Any]) -> None:
    script = listening_script(tmp_path, "inherit")
    script.first_build()
    script.built(1)
    script.post(SocketSeen(1, Observed("listening on its own port 127.0.0.1:9100", own=("127.0.0.1:9100",))))
    assert script.serving == 1
    looks["own"], looks["accepting"] = ("127.0.0.1:9100",), "accepting on the shared socket"
    script.advance(OWN_PORT_GRACE)
    assert script.events("own_port") == []
    assert script.supervisor.lineup.generations[1].own_listen == ()
    mark = len(script.actions)
    script.changed()
    script.built(2)
    assert script.since(mark) == [("build", 2), ("start", 2, "svc-2")], "start-then-stop, as before"


def _binds_the_shared_port_itself(script: Script, number: int) -> None:
    script.supervisor.lineup.generations[number].recent.append(
        "listen tcp 127.0.0.1:8080: bind: address already in use")
    script.post(script.exited(number, 1))


def test_socket_auto_lets_go_of_the_port_for_a_service_that_binds_it_itself(tmp_path: Path) -> None:
    """A plain http.ListenAndServe(":8080"): the first run serves, and every later edit too."""
    script = listening_script(tmp_path)
    script.first_build()
    script.built(1)
    mark = len(script.actions)
    _binds_the_shared_port_itself(script, 1)
    [released] = script.events("socket_released")
    assert released["socket"] == "none" and released["listen"] == ["127.0.0.1:8080"]
    assert script.since(mark) == [("start", 2, "svc-1")], "the same build again, at once"
    assert script.events("address_in_use") == [] and not [e for e in script.log.records() if e["level"] == "error"]
    script.post(SocketSeen(2, Observed("listening on 127.0.0.1:8080")))
    assert script.serving == 2
    status = script.supervisor.control.status()
    assert status["socket"] == "none" and "itself" in status["note"]
    second = script.supervisor.lineup.generations[2]
    assert isinstance(second, FakeGeneration)
    assert second.env["HOTGO_SOCKET"] == "none" and "LISTEN_FDS" not in second.env
    mark = len(script.actions)
    script.changed()
    script.built(3)
    assert script.since(mark) == [("build", 3), ("stop", 2, "SIGTERM")], "stop-then-start from now on"
    script.post(script.exited(2, 0))
    assert script.actions[-1] == ("start", 3, "svc-3")
    assert len(script.events("socket_released")) == 1, "said once"


def test_socket_inherit_chosen_by_the_user_is_kept_and_the_failure_explained(tmp_path: Path) -> None:
    script = listening_script(tmp_path, "inherit")
    script.first_build()
    script.built(1)
    mark = len(script.actions)
    _binds_the_shared_port_itself(script, 1)
    assert script.events("socket_released") == []
    [in_use] = script.events("address_in_use")
    assert in_use["generation"] == 1
    assert script.since(mark) == [], "no retry: the user asked for inherit"
    assert script.supervisor.control.status()["socket"] == "inherit"


@pytest.mark.skipif(not platform.CAPABILITIES.proc_net, reason="the socket watch reads Linux /proc")
def test_socket_auto_lets_go_of_the_port_for_a_service_binding_it_with_reuseport(tmp_path: Path) -> None:
    script = listening_script(tmp_path)
    script.first_build()
    script.built(1)
    script.post(SocketSeen(1, Observed("listening on its own port 127.0.0.1:8080", own=("127.0.0.1:8080",))))
    [released] = script.events("socket_released")
    assert released["socket"] == "reuseport"
    assert script.serving == 1 and script.events("own_port") == []
    mark = len(script.actions)
    script.changed()
    script.built(2)
    assert script.since(mark) == [("build", 2), ("start", 2, "svc-2")], "beside the old one: start-then-stop"


def test_address_in_use_at_start_retries_stop_then_start(script: Script) -> None:
    script.serve_first()
    script.changed()
    script.built(2)
    script.supervisor.lineup.generations[2].recent.append("listen tcp 127.0.0.1:8080: bind: address already in use")
    mark = len(script.actions)
    script.post(script.exited(2, 1))
    [in_use] = script.events("address_in_use")
    assert in_use["generation"] == 2
    assert script.since(mark) == [("stop", 1, "SIGTERM")]  # the same build again, once 1 has let go
    script.post(script.exited(1, 0))
    assert script.actions[-1] == ("start", 3, "svc-2")
    script.post(script.ready(3))
    assert script.serving == 3
    assert "binds its port itself" in script.supervisor.control.status()["note"]


# -- the config pusher -----------------------------------------------------------------

def test_push_to_a_service_that_never_spoke_sd_notify_is_unconfirmed_at_once(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.checked("app.toml")
    assert push.signals == [(1, "SIGHUP")]
    [result] = push.results()
    assert result["result"] == "unconfirmed"
    assert push.pusher.last.result == "unconfirmed"
    assert push.pushed == [1], "pages are reloaded after a push the service did not refuse"


def test_notify_reload_answer_confirms_the_push(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.notify(READY="1")  # it speaks sd_notify
    push.checked("app.toml")
    assert push.results() == []  # waiting for its answer
    push.clock.now += 0.03
    push.notify(RELOADING="1", MONOTONIC_USEC="1")
    push.notify(STATUS="reloaded 3 keys", READY="1")
    [result] = push.results()
    assert result["result"] == "confirmed" and result["seconds"] == 0.03
    assert push.pusher.last.message == "reloaded 3 keys"


@pytest.mark.parametrize("answer", [{"ERRNO": "22"}, {"STATUS": "reload failed: bad port"}])
def test_an_error_inside_the_reload_window_fails_the_push(tmp_path: Path, answer: Dict[str, str]) -> None:
    push = Pushing(tmp_path)
    push.notify(READY="1")
    push.checked("app.toml")
    push.notify(RELOADING="1")
    push.notify(**answer)
    push.notify(READY="1")
    [result] = push.results()
    assert result["result"] == "failed" and result["level"] == "error"
    assert push.pushed == [], "a refused config reloads no page"


def test_reloading_without_ready_fails_after_the_ack_timeout(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.notify(READY="1")
    push.checked("app.toml")
    push.notify(RELOADING="1")
    push.advance(4.9)
    assert push.results() == []
    push.advance(0.2)
    [result] = push.results()
    assert result["result"] == "failed" and "no READY=1 within 5s" in result["message"]


def test_a_service_that_does_not_answer_reloads_is_learned_once(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.notify(READY="1")
    push.checked("app.toml")
    push.advance(5.1)
    push.checked("app.toml")  # the next push is not waited for
    first, second = push.results()
    assert first["result"] == "unconfirmed" and second["result"] == "unconfirmed"
    assert first["seconds"] == 5.1 and second["seconds"] == 0
    assert len(push.signals) == 2


def test_changes_within_min_interval_are_coalesced_into_one_push(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.checked("app.toml")
    push.advance(0.1)
    push.checked("app.toml")
    push.checked("extra.toml")
    assert len(push.signals) == 1
    push.advance(0.39)
    assert len(push.signals) == 1
    push.advance(0.02)
    assert len(push.signals) == 2
    assert push.results()[-1]["files"] == ["app.toml", "extra.toml"]


def test_no_push_during_a_handoff_then_pushed_to_the_new_generation(tmp_path: Path) -> None:
    push = Pushing(tmp_path, busy=True)
    push.checked("app.toml")
    assert push.signals == []
    push.busy = False
    push.serving = Generation(2, tmp_path / "svc-2", "svc")
    push.pusher.try_push()  # the supervisor calls it once the new generation is ready
    assert push.signals == [(2, "SIGHUP")]


def test_the_generation_exiting_during_the_push_fails_it(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.notify(READY="1")
    push.checked("app.toml")
    push.pusher.generation_gone(1)
    [result] = push.results()
    assert result["result"] == "failed" and "exited during the push" in result["message"]


def test_a_rejected_file_is_never_pushed(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.checked("app.toml", ok=False, message="app.toml:3: expected '='")
    assert push.signals == []
    [result] = push.results()
    assert result["result"] == "failed" and result["files"] == ["app.toml"]
    assert push.pusher.last.result == "failed"


def test_an_empty_file_is_looked_at_again_before_anything_is_pushed(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    rechecked: List[List[Path]] = []
    push.pusher.changed = lambda paths: rechecked.append(list(paths))  # type: ignore[method-assign]
    push.pusher.on_checked([(tmp_path / "app.toml", Verdict(False, "empty", incomplete=True))])
    assert push.signals == [] and push.results() == []
    push.advance(0.06)  # one settle later
    assert rechecked == [[tmp_path / "app.toml"]]


def test_push_none_tells_nothing_and_records_nothing(tmp_path: Path) -> None:
    push = Pushing(tmp_path, push="none")
    push.checked("app.toml")
    assert push.signals == [] and push.results() == []
    assert push.pusher.last.result == "none"


# -- a day of reloads: what the loop keeps stays bounded ---------------------------------

def _next_build(script: Script) -> int:
    script.changed()
    action = script.actions[-1]
    assert action[0] == "build", action
    return int(action[1])


def _reload(script: Script, kind: str) -> None:
    """One reload of a kind a long-running hotgo sees, from the change to the old process gone."""
    old = script.serving
    if kind == "rollback":
        slot = ReplySlot()
        script.post(ControlRequest("rollback", slot))
        assert slot.reply["ok"], slot.reply
        number = int(script.actions[-1][1])
    elif kind == "crash":  # the serving process exits on its own; restarted after the backoff
        script.advance(20)
        script.post(script.exited(old, 2))
        script.advance(BACKOFF_FIRST)
        number = int(script.actions[-1][1])
        old = 0
    else:
        number = _next_build(script)
    if kind == "build_failed":
        script.built(number, ok=False, output=["main.go:1:1: syntax error"])
        return
    if kind == "spawn_fails":
        script.spawn_fails = True
        script.built(number)
        script.spawn_fails = False
        return
    if kind == "superseded":
        script.built(number)
        newer = _next_build(script)
        script.built(newer)
        script.post(script.exited(number, -9))
        number = newer
    elif kind not in ("rollback", "crash"):
        script.built(number)
    if kind == "failed_start":
        script.post(script.exited(number, 1))
        return
    if kind == "not_ready":
        script.advance(script.settings.run_ready_timeout + 0.1)
        script.post(script.exited(number, -9))
        return
    script.advance(0.05)
    script.post(script.ready(number))
    if old:
        script.advance(0.2)
        script.post(script.exited(old, 0))


def test_a_day_of_reloads_keeps_only_what_the_serving_generation_needs(tmp_path: Path) -> None:
    """Every per-reload object (generations, readiness and drain watches, reload timings, timers,
    the builds kept for rollback) is let go once its reload is over: 300 reloads of every kind,
    and after each the loop holds what one serving generation needs, nothing that grows."""
    import gc

    from hotgo.deadlines import COMPACT_AT

    script = Script(tmp_path, run_ready_timeout=5.0, build_keep=3)
    script.serve_first()
    kinds = ["good"] * 5 + ["build_failed", "good", "failed_start", "good", "not_ready", "good", "spawn_fails",
                            "crash", "good", "superseded", "good", "rollback"]
    supervisor = script.supervisor
    for index in range(300):
        _reload(script, kinds[index % len(kinds)])
        script.advance(1.0)  # a reload a second
        assert script.serving and not script.candidate, script.events("log")[-3:]
        lineup, readiness, drains = supervisor.lineup, supervisor.readiness, supervisor.drains
        assert list(lineup.generations) == [script.serving]
        assert not (readiness._timers or readiness._probes or readiness._watches)
        assert not (drains._watches or drains._exited)
        assert not supervisor.reports._timings
        assert len(supervisor.history.good) <= script.settings.build_keep
        assert len(supervisor.inbox.timers) <= 2 * COMPACT_AT
        if index % 10 == 0:  # no deadline still armed holds a generation that is gone
            gc.collect()
            kept = [generation.number for generation in (ref() for ref in script.made) if generation is not None]
            assert kept == [script.serving], f"after reload {index + 1}: generations kept alive: {kept}"
