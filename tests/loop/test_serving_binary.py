"""A serving generation whose binary's file is deleted (issue 23): it keeps serving, hotgo says so and
puts the file back, and nothing that starts a binary again (a crash restart, a rollback) depends
silently on a file that is gone. Scripted (tests/scripted.py): fake clock, builds and processes;
the binaries are real files, the ones the fake builds write."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from scripted import Script

from hotgo.build.kept_binary import KeptBinary
from hotgo.loop.crash_policy import BACKOFF_FIRST
from hotgo.loop.events import ControlRequest, ReplySlot
from hotgo.loop.serving_binary import CHECK_EVERY


@pytest.fixture
def script(tmp_path: Path) -> Script:
    return Script(tmp_path)


def binary(script: Script, number: int) -> Path:
    return script.supervisor.service.binary(number)


def test_a_deleted_serving_binary_is_said_once_and_put_back_while_it_keeps_serving(script: Script) -> None:
    script.serve_first()
    served = binary(script, 1)
    served.chmod(0o755)
    served.unlink()
    mark = len(script.actions)
    script.advance(CHECK_EVERY)
    [missing] = script.events("binary_missing")
    assert (missing["generation"], missing["binary"], missing["restored"]) == (1, str(served), True)
    assert missing["level"] == "warn"
    assert served.read_bytes() == b"binary" and served.stat().st_mode & 0o777 == 0o755
    assert script.since(mark) == [] and script.serving == 1  # nothing stopped, killed or started
    script.advance(CHECK_EVERY * 5)
    assert len(script.events("binary_missing")) == 1
    served.unlink()  # again: said again
    script.advance(CHECK_EVERY)
    assert len(script.events("binary_missing")) == 2 and served.exists()


def test_the_whole_state_directory_deleted_is_put_back_too(script: Script) -> None:
    script.serve_first()
    shutil.rmtree(script.supervisor.service.state_dir)
    script.advance(CHECK_EVERY)
    assert script.events("binary_missing")[0]["restored"] is True and binary(script, 1).exists()


def test_a_crash_before_the_deletion_was_seen_restarts_from_the_copy_hotgo_holds(script: Script) -> None:
    script.serve_first()
    binary(script, 1).unlink()
    script.post(script.exited(1, 0))  # at once: the periodic look has not run
    script.advance(BACKOFF_FIRST)
    assert script.actions[-1] == ("start", 2, "svc-1")
    [missing] = script.events("binary_missing")
    assert missing["restored"] is True and binary(script, 1).exists()


def test_a_crash_with_the_binary_gone_for_good_rebuilds_instead(script: Script,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    script.serve_first()
    monkeypatch.setattr(KeptBinary, "restore", lambda self: "no space left on device")  # a full disk, say
    binary(script, 1).unlink()
    script.advance(CHECK_EVERY)
    [missing] = script.events("binary_missing")
    assert missing["restored"] is False and "a restart will mean rebuilding" in missing["message"], missing
    assert "no space left on device" in missing["message"] and script.serving == 1
    script.advance(CHECK_EVERY * 3)
    assert len(script.events("binary_missing")) == 1  # said once
    mark = len(script.actions)
    script.post(script.exited(1, 0))
    script.advance(BACKOFF_FIRST)
    assert script.since(mark) == [("build", 2)], "no start of a binary that is not there"
    [_, restart] = script.events("binary_missing")
    assert restart["restored"] is False and restart["message"].endswith("rebuilding"), restart
    script.built(2)
    script.post(script.ready(2))
    assert script.serving == 2


def test_a_rollback_says_which_builds_it_passed_over_because_they_are_gone(script: Script) -> None:
    script.serve_first()
    script.hand_off(2)
    script.hand_off(3)
    binary(script, 2).unlink()
    slot = ReplySlot()
    script.post(ControlRequest("rollback", slot))
    assert slot.reply["ok"] and "rolling back to svc-1" in slot.reply["message"], slot.reply
    assert "skipped svc-2 (no longer in" in slot.reply["message"], slot.reply
    assert script.events("rollback")[0]["skipped"] == ["svc-2"]
    assert script.actions[-1] == ("start", 4, "svc-1")


def test_no_rollback_names_the_builds_that_are_gone(script: Script) -> None:
    script.serve_first()
    script.hand_off(2)
    binary(script, 1).unlink()
    slot = ReplySlot()
    script.post(ControlRequest("rollback", slot))
    assert not slot.reply["ok"]
    assert "the files of those before it are gone, pruned or deleted" in slot.reply["error"], slot.reply
    assert slot.reply["error"].endswith("latest builds that served: svc-1, svc-2)"), slot.reply
