"""Config pushes report what the service said: confirmed, unconfirmed or failed (issue 11).

The service is tests/fixtures/reloader, a stdlib-only Go program that answers
SIGHUP the way real services do: not at all, with an error STATUS= inside the
notify-reload window, or properly once and then no more.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, Iterator

import pytest
from harness import REPO, Hotgo, event_time, kill_processes_under, wait_for

CONFIG = "config/app.yaml"


@pytest.fixture
def reloader(tmp_path: Path, go_toolchain: str) -> Iterator[Path]:
    project = tmp_path / "reloader"
    shutil.copytree(REPO / "tests" / "fixtures" / "reloader", project, ignore=shutil.ignore_patterns(".hotgo"))
    yield project
    kill_processes_under(tmp_path)


def start(project: Path, mode: str, extra: str = "", log_format: str = "json") -> Hotgo:
    (project / "hotgo.toml").write_text(
        f'[run]\nargs = ["-mode", "{mode}"]\n\n[config]\nfiles = ["config/*.yaml"]\npush = "signal:SIGHUP"\n'
        f'min_interval = "100ms"\n{extra}'
    )
    hotgo = Hotgo(["run", "."], cwd=project, log_format=log_format)
    try:
        if hotgo.json:
            hotgo.wait_output(r"reloader \S+ pid=\d+ up")
        else:
            hotgo.wait_line(r"reloader \S+ pid=\d+ up")
        hotgo.wait_serving()
    except BaseException:
        hotgo.close()
        raise
    return hotgo


def write_config(project: Path, greeting: str, kind: str = "http") -> None:
    (project / CONFIG).write_text(f"greeting: {greeting}\nkind: {kind}\n")


def last_push(project: Path) -> Dict[str, Any]:
    result = subprocess.run([sys.executable, "-m", "hotgo", "status", "--json"], cwd=project,
                            capture_output=True, text=True, timeout=60)
    push: Dict[str, Any] = json.loads(result.stdout)["last_config_push"]
    return push


def test_invalid_yaml_is_not_pushed_and_names_file_line_column(reloader: Path) -> None:
    """Wording is the point: the refusal names file:line:column and what keeps serving (the one test of the
    invalid-config message; the others read the `config_push` event)."""
    with start(reloader, "status-error", log_format="text") as hotgo:
        (reloader / CONFIG).write_text("greeting: hello\nkind: [http\n")
        hotgo.wait_line(r"config .*config/app\.yaml:3:1: .* — not pushed; generation 1 keeps its current config")
        push = last_push(reloader)
        assert push["result"] == "failed" and re.search(r"app\.yaml:3:1: ", push["message"]), push
        write_config(reloader, "fixed")  # a later push proves the invalid one never went out
        hotgo.wait_line(r"config push to generation 1 \(config/app\.yaml\) confirmed")
        hotgo.wait_line(r"got SIGHUP #1")  # the service's own line: relayed a moment after hotgo's
        assert hotgo.count(r"got SIGHUP") == 1, hotgo.output


def test_error_status_inside_the_reload_window_is_a_failed_push(reloader: Path) -> None:
    with start(reloader, "status-error") as hotgo:
        write_config(reloader, "bonjour", kind="bogus")  # valid YAML, a value the service rejects
        failed = hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="failed")
        assert 'cannot apply config/app.yaml: unknown module kind "bogus"' in failed["message"], failed  # its STATUS=
        push = last_push(reloader)
        assert push["result"] == "failed" and 'unknown module kind "bogus"' in push["message"], push
        write_config(reloader, "bonjour")
        hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="confirmed")
        assert last_push(reloader)["result"] == "confirmed"


def test_silent_service_is_unconfirmed_at_once_and_never_holds_up_the_next_push(reloader: Path) -> None:
    with start(reloader, "silent", extra='ack_timeout = "10s"\n') as hotgo:
        write_config(reloader, "one")
        hotgo.wait_event("config_push", result="unconfirmed")
        write_config(reloader, "two")  # right after: must not wait behind the first
        hotgo.wait_event("config_push", result="unconfirmed", occurrences=2)
        hotgo.wait_output(r"config applied: greeting=two")
        sent = hotgo.events("config_changed", generation=1)
        outcomes = hotgo.events("config_push")
        assert len(sent) == 2 and [r["result"] for r in outcomes] == ["unconfirmed", "unconfirmed"], hotgo.transcript()
        assert event_time(outcomes[0]) - event_time(sent[0]) <= 0.1, (sent[0], outcomes[0])
        # The second push is not held for the 10s ack_timeout (nor the 5s default) of the first.
        assert event_time(outcomes[1]) - event_time(outcomes[0]) < 5.0, (outcomes[0], outcomes[1])
        assert last_push(reloader)["result"] == "unconfirmed"


def test_service_that_says_ready_but_never_answers_reloads_is_unconfirmed_then_not_waited_for(reloader: Path) -> None:
    """Wording is the point: an unconfirmed push says why (the one test of those reasons; the others read the
    `config_push` event's `result`)."""
    with start(reloader, "ready-only", extra='ack_timeout = "1s"\n', log_format="text") as hotgo:
        write_config(reloader, "first")
        hotgo.wait_line(r"config push to generation 1 \(config/app\.yaml\) unconfirmed: no RELOADING=1 within 1s: "
                        r"the service speaks sd_notify but does not answer reloads")
        write_config(reloader, "second")
        hotgo.wait_line(r"config push to generation 1 \(config/app\.yaml\) unconfirmed: sent SIGHUP; the service did "
                        r"not answer earlier pushes")
        hotgo.wait_line(r"got SIGHUP #2")
        assert last_push(reloader)["result"] == "unconfirmed"


def test_service_that_answered_before_and_then_stays_silent_is_failed(reloader: Path) -> None:
    with start(reloader, "ack-once", extra='ack_timeout = "3s"\n') as hotgo:
        write_config(reloader, "first")
        hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="confirmed")
        write_config(reloader, "second")
        hotgo.wait_output(r"got SIGHUP #2")
        waiting_since = time.monotonic()
        write_config(reloader, "third")  # during the wait for an answer: queued behind it, not lost
        failed = hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="failed")
        hotgo.wait_output(r"got SIGHUP #3")
        assert time.monotonic() - waiting_since < 3 + 2.5, "the queued push waited longer than ack_timeout"
        assert hotgo.output_count(r"got SIGHUP #2") == 1
        assert hotgo.count_events("config_push", result="unconfirmed") == 0, hotgo.transcript()
        push = last_push(reloader)
        assert push["result"] == "failed" and push["message"] and push["message"] in failed["message"], push


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_validator_rejection_shows_its_error_line_not_its_info_lines(reloader: Path, log_format: str) -> None:
    """Which of the validator's lines the refusal shows, in both formats (wording is the point of the text one)."""
    extra = 'validate = "{binary} -check-config {file}"\n'
    with start(reloader, "status-error", extra=extra, log_format=log_format) as hotgo:
        write_config(reloader, "bonjour", kind="bogus")
        if hotgo.json:
            event = hotgo.wait_event("config_push", result="failed")
            line, output = event["message"], event["output"].splitlines()
            assert event["files"] == [CONFIG], event
            assert len(output) == 201 and sum("level=INFO" in x for x in output) == 200, output[-2:]
        else:
            hotgo.wait_line(r"— not pushed; generation 1 keeps its current config")
            line = next(x for x in hotgo.output.splitlines() if "not pushed" in x)
        assert 'level=ERROR msg="config rejected"' in line and "unknown module kind" in line, line
        assert "level=INFO" not in line and "loaded module" not in line, line
        assert "(200 more lines in .hotgo/validate.log)" in line, line
        kept = (reloader / ".hotgo" / "validate.log").read_text().splitlines()
        assert len(kept) == 201 and kept[-1].count("level=ERROR") == 1, kept[-3:]
        assert (hotgo.output_count if hotgo.json else hotgo.count)(r"got SIGHUP") == 0


def test_hotgo_toml_edited_while_running_names_the_keys_not_applied(reloader: Path) -> None:
    with start(reloader, "silent") as hotgo:
        path = reloader / "hotgo.toml"
        path.write_text(path.read_text().replace('min_interval = "100ms"', 'min_interval = "2s"')
                        + '\n[watch]\nsettle = "80ms"\n')
        hotgo.wait_event("settings_changed", keys=["[watch] settle", "[config] min_interval"])
        path.write_text(path.read_text() + "\n[build]\nkep = 3\n")
        refused = hotgo.wait_event("settings_changed", level="error")  # its wording: tests/test_config.py
        assert "kep" in refused["message"], refused
        wait_for(lambda: hotgo.proc.poll() is None, 1, "hotgo still running")
