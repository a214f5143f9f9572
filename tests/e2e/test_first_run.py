"""The obvious first run on an unmodified service: `hotgo run . --listen 127.0.0.1:PORT` on a service
that calls `http.ListenAndServe(":PORT", mux)` itself (samples/plain), with no hotgo code in it."""

from __future__ import annotations

import re
import signal
from pathlib import Path

import pytest
from harness import Hotgo, copy_sample, field_of, free_port, get, kill_processes_under, set_version, wait_for

from hotgo.control.channel import request


@pytest.mark.go
def test_a_plain_listen_and_serve_service_is_served_on_the_first_run_and_after_every_edit(tmp_path: Path) -> None:
    project = copy_sample(tmp_path, "plain")
    port = free_port()
    try:
        with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--", "-addr", f":{port}"], cwd=project) as hotgo:
            hotgo.wait_serving(1)
            assert field_of(get(port), "version") == "v1", hotgo.transcript()
            [released] = hotgo.events("socket_released")
            assert released["socket"] == "none" and released["listen"] == [f"127.0.0.1:{port}"], released
            assert "fd 3" in released["message"], "the line names the change that gives zero downtime"
            for edit in range(2, 7):
                set_version(project, f"v{edit}", main="main.go")
                hotgo.wait_serving(edit)
                wait_for(lambda v=f"v{edit}": field_of(get(port), "version") == v, 30, f"v{edit} served")
            assert len(hotgo.events("socket_released")) == 1, "said once"
            assert hotgo.events("address_in_use") == [] and hotgo.events("crash_loop") == [], hotgo.transcript()
            # Ready as soon as it listens (observed, no fixed wait), every time.
            assert all(re.fullmatch(rf"listening on \S*:{port}", e["how"]) for e in hotgo.events("ready")), \
                hotgo.transcript()
            status = request(project / ".hotgo", "status")["status"]
            assert status["socket"] == "none" and status["state"] == "ready", status
            assert hotgo.interrupt(signal.SIGINT) == 0, hotgo.transcript()
            text = hotgo.output
            assert "Traceback" not in text
            assert not re.search(r"zero downtime|no connection is refused|without downtime", "\n".join(
                e["message"] for e in hotgo.records() if e["event"] not in ("socket_released", "output"))), text
    finally:
        kill_processes_under(tmp_path)


@pytest.mark.go
def test_socket_none_with_listen_says_the_truth_and_looks_at_the_address(tmp_path: Path) -> None:
    project = copy_sample(tmp_path, "plain")
    port = free_port()
    try:
        with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--socket", "none", "--", "-addr",
                    f"127.0.0.1:{port}"], cwd=project) as hotgo:
            hotgo.wait_serving(1)
            [said] = hotgo.events("no_listen")
            assert "no --listen" not in said["message"] and f"127.0.0.1:{port}" in said["message"], said
            assert hotgo.events("ready")[0]["how"] == f"listening on 127.0.0.1:{port}", hotgo.transcript()
            assert hotgo.events("socket_released") == []
    finally:
        kill_processes_under(tmp_path)
