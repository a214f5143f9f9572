"""Which sd_notify messages answer a signal push, and a late answer amending an `unconfirmed` report (issue 21).

Scripted (tests/scripted.py `Pushing`): a fake clock and a fake signal sender, no Go. ack_timeout is 5s.
A service such as Caddy sends RELOADING=1 … READY=1 on its own at start-up: that shows it speaks
sd_notify, never that it answered a push.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List

import pytest
from scripted import Pushing

from hotgo.control.status_text import describe_status
from hotgo.handoff.generation import Generation

START_UPS = [
    [{"READY": "1"}],
    [{"RELOADING": "1"}, {"READY": "1"}],  # Caddy loading its config at start-up
    [{"READY": "1"}, {"RELOADING": "1"}, {"STATUS": "loaded"}, {"READY": "1"}],
]


def unconfirmed_by_silence(push: Pushing) -> None:
    """Generation 1 speaks sd_notify (READY=1 at start-up) and gives no answer within ack_timeout."""
    push.notify(READY="1")
    push.checked("app.toml")
    push.advance(5.1)
    [result] = push.results()
    assert result["result"] == "unconfirmed" and "amends" not in result, result


@pytest.mark.parametrize("start_up", START_UPS)
def test_first_push_after_start_up_notifications_is_not_failed_as_answered_before(
        tmp_path: Path, start_up: List[Dict[str, str]]) -> None:
    push = Pushing(tmp_path)
    for message in start_up:
        push.notify(**message)
    push.checked("app.toml")
    assert push.results() == [], "it speaks sd_notify: its answer is waited for"
    push.advance(5.1)
    [result] = push.results()
    assert result["result"] == "unconfirmed", result
    assert "answered" not in result["message"], result
    assert push.pusher.last.result == "unconfirmed"


def test_a_new_generations_start_up_reload_is_no_answer_though_the_old_one_answered(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.notify(READY="1")
    push.checked("app.toml")
    push.notify(RELOADING="1")
    push.notify(READY="1")
    push.pusher.generation_gone(1)
    push.serving = Generation(2, tmp_path / "svc-2", "svc")
    push.notify_from(2, RELOADING="1")  # its own start-up, before any push to it
    push.notify_from(2, READY="1")
    push.advance(1)
    push.checked("app.toml")
    push.advance(5.1)
    first, second = push.results()
    assert first["result"] == "confirmed" and first["generation"] == 1, first
    assert second["result"] == "unconfirmed" and second["generation"] == 2, second
    assert "answered" not in second["message"], second


def test_silence_fails_only_a_generation_that_answered_an_earlier_push(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.notify(RELOADING="1")  # start-up
    push.notify(READY="1")
    push.checked("app.toml")
    push.notify(RELOADING="1")  # the answer, within ack_timeout
    push.notify(READY="1")
    push.advance(1)
    push.checked("app.toml")
    push.advance(5.1)
    first, second = push.results()
    assert first["result"] == "confirmed", first
    assert second["result"] == "failed" and "generation 1 answered earlier pushes" in second["message"], second


def test_a_late_ready_amends_an_unconfirmed_push(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.advance(2)
    push.notify(RELOADING="1")
    push.notify(READY="1")
    unconfirmed, amended = push.results()
    assert unconfirmed["result"] == "unconfirmed", unconfirmed
    assert amended["result"] == "confirmed" and amended["amends"] is True, amended
    assert amended["generation"] == 1 and amended["files"] == ["app.toml"], amended
    assert amended["seconds"] == 7.1, amended  # since the push was sent
    last = push.pusher.last
    assert last.result == "confirmed" and "7.1s after the push" in last.message, last
    assert push.signals == [(1, "SIGHUP")]


@pytest.mark.parametrize("answer", [
    [{"STATUS": "reload failed: unknown module kind \"bogus\""}, {"READY": "1"}],
    [{"STATUS": "reload failed: unknown module kind \"bogus\"", "ERRNO": "0"}],  # Caddy: no READY=1 after an error
    [{"STATUS": "reload failed: unknown module kind \"bogus\"", "ERRNO": "22"}],
])
def test_a_late_error_status_amends_an_unconfirmed_push(tmp_path: Path, answer: List[Dict[str, str]]) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.advance(3)
    push.notify(RELOADING="1")
    for message in answer:
        push.notify(**message)
    unconfirmed, amended = push.results()
    assert unconfirmed["result"] == "unconfirmed", unconfirmed
    assert amended["result"] == "failed" and amended["amends"] is True and amended["level"] == "error", amended
    assert 'unknown module kind "bogus"' in amended["message"], amended  # the service's own message
    last = push.pusher.last
    assert last.result == "failed" and 'unknown module kind "bogus"' in last.message, last
    status = {"generation": 1, "state": "ready", "pid": 1, "started_at": "", "binary": "svc-1", "listen": [],
              "socket": "none", "last_build": {"result": "ok"}, "rollback_to": "", "generations": [],
              "last_config_push": {"result": last.result, "when": "", "files": last.files, "message": last.message}}
    [line] = [x for x in describe_status(status) if x.startswith("last push")]
    assert line.startswith("last push   failed") and "bogus" in line, line


def test_a_push_unconfirmed_at_once_is_amended_by_its_late_answer(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    push.checked("app.toml")  # it never spoke sd_notify: unconfirmed at once
    push.advance(0.5)
    push.notify(READY="1")  # a late start-up READY=1 is no answer
    assert len(push.results()) == 1
    push.notify(RELOADING="1")
    push.notify(READY="1")
    unconfirmed, amended = push.results()
    assert (unconfirmed["result"], amended["result"], amended["amends"]) == ("unconfirmed", "confirmed", True)


def test_an_answer_after_the_window_is_not_attributed_to_the_push(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.advance(5.1)  # ack_timeout after the unconfirmed report
    push.notify(RELOADING="1")
    push.notify(STATUS="reload failed: bad port")
    push.notify(READY="1")
    push.advance(10)
    assert len(push.results()) == 1
    assert push.pusher.last.result == "unconfirmed"


def test_a_late_reloading_without_ready_amends_to_failed(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.advance(4)
    push.notify(RELOADING="1")  # late, inside the window: its answer gets ack_timeout from here
    push.advance(4.9)
    assert len(push.results()) == 1
    push.advance(0.2)
    unconfirmed, amended = push.results()
    assert unconfirmed["result"] == "unconfirmed", unconfirmed
    assert amended["result"] == "failed" and amended["amends"] is True, amended
    assert "no READY=1" in amended["message"], amended


def test_a_newer_push_closes_the_window_of_the_unconfirmed_one(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.checked("extra.toml")  # unconfirmed at once (the last push was not answered); the answer is its
    push.notify(RELOADING="1")
    push.notify(READY="1")
    _, second, amended = push.results()
    assert second["result"] == "unconfirmed" and second["files"] == ["extra.toml"], second
    assert amended["result"] == "confirmed" and amended["files"] == ["extra.toml"], amended
    assert len(push.signals) == 2


def test_after_a_late_answer_the_next_push_waits_for_its_answer_again(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.notify(RELOADING="1")
    push.notify(READY="1")
    push.checked("app.toml")
    assert len(push.results()) == 2, "not unconfirmed at once: the service answers, slowly"
    push.advance(5.1)
    third = push.results()[-1]
    assert third["result"] == "unconfirmed", "a late answer is no in-time answer: silence fails nothing"


def test_a_late_answer_leaves_a_later_refusal_in_hotgo_status(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.checked("other.toml", ok=False, message="other.toml:1: expected '='")
    push.notify(RELOADING="1")
    push.notify(READY="1")
    amended = push.results()[-1]
    assert amended["result"] == "confirmed" and amended["amends"] is True, amended
    assert push.pusher.last.result == "failed" and push.pusher.last.files == ["other.toml"]


def test_the_generation_exiting_ends_the_window(tmp_path: Path) -> None:
    push = Pushing(tmp_path)
    unconfirmed_by_silence(push)
    push.pusher.generation_gone(1)
    push.notify(RELOADING="1")  # read late from its socket
    push.notify(READY="1")
    assert len(push.results()) == 1
    assert push.pusher.last.result == "unconfirmed"
