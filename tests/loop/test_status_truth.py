"""`hotgo status` and hotgo's messages tell the truth when things go wrong (issue 12)."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any, Dict

from harness import CRASHES_AFTER_READY, Hotgo, field_of, free_port, get, set_version, wait_for
from scripted import Script

from hotgo.control.channel import request

# Ready, up long enough to be seen serving, then gone: a quick crash all the same (< 10 s).
CRASHES_AFTER_A_WHILE = CRASHES_AFTER_READY.replace("100 * time.Millisecond", "1500 * time.Millisecond")
assert CRASHES_AFTER_A_WHILE != CRASHES_AFTER_READY

BROKEN = "package main\n\nfunc main() { undefined() }\n"


def status(project: Path) -> Dict[str, Any]:
    reply = request(project / ".hotgo", "status")
    assert reply.get("ok"), reply
    return reply["status"]  # type: ignore[no-any-return]


def test_crash_loop_note_stays_while_the_crashing_build_is_up_and_goes_when_a_new_build_serves(
        api_project: Path) -> None:
    main = api_project / "cmd/api/main.go"
    original = main.read_text()
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        main.write_text(CRASHES_AFTER_A_WHILE)
        # The 3rd quick crash makes it a loop; the build is restarted and is "ready" again for a while.
        up_in_loop = wait_for(lambda: (lambda s: s["state"] == "ready" and s["binary"].endswith("api-2")
                                       and s["note"].startswith("crash loop: api-2") and s)(status(api_project)),
                              90, "status: api-2 ready during its crash loop, with the note", step=0.05)
        assert up_in_loop
        hotgo.wait_event("gave_up", timeout=90)
        wait_for(lambda: field_of(get(port), "version") == "v1", 30, "api-1 serving again")
        assert status(api_project)["note"].startswith("gave up on api-2")  # still true while api-1 serves
        main.write_text(original)
        set_version(api_project, "v3")
        wait_for(lambda: field_of(get(port), "version") == "v3", 90, "the fixed build serving")
        wait_for(lambda: status(api_project)["note"] == "", 10, "the note to be cleared by a new build")


def test_first_build_failing_says_nothing_serves_and_stop_says_nothing_runs(api_project: Path) -> None:
    """Wording is the point: what still serves after a failure ("nothing is serving") and at a stop (the one
    test of those words)."""
    (api_project / "cmd/api/main.go").write_text(BROKEN)
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{free_port()}"], cwd=api_project,
               log_format="text") as hotgo:
        hotgo.wait_line(r"build failed in .*— nothing is serving; waiting for the next change")
        assert "still serving the previous version" not in hotgo.output
        assert hotgo.interrupt(signal.SIGINT) == 0
        assert "SIGINT: no generation is running; exiting" in hotgo.output, hotgo.output


def test_rollback_refusal_names_only_the_latest_builds(tmp_path: Path) -> None:
    script = Script(tmp_path, build_keep=3)
    script.serve_first()
    history = script.supervisor.history
    history.good[:] = [Path(f"/p/.hotgo/bin/api-{number}") for number in range(1, 201)]  # every older build pruned
    reply = script.supervisor.control.rollback()
    assert not reply["ok"]
    assert reply["error"].endswith("latest builds that served: api-198, api-199, api-200 (and 197 older))")
    assert "api-1," not in reply["error"]
