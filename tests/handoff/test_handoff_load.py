"""The promise under load: no request lost while reloading, in both shared-socket modes (issue 4)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from harness import Hotgo, Load, copy_sample, field_of, free_port, get, set_version, wait_for

RELOADS = 20
CLIENTS = 16


@pytest.mark.parametrize("mode", ["inherit", "reuseport"])
def test_sixteen_clients_twenty_reloads_zero_failures(api_project: Path, mode: str) -> None:
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--socket", mode], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        with Load(port, clients=CLIENTS, max_seconds=240) as load:
            for i in range(2, RELOADS + 2):
                version = f"v{i}"
                set_version(api_project, version)
                hotgo.wait_serving(i, timeout=60)
                # After each reload the new version is what answers, and only it.
                wait_for(lambda v=version: field_of(get(port), "version") == v, 10, f"{version} answering")
                assert all(field_of(get(port), "version") == version for _ in range(5))
                load.wait_seen(version)
            result = load.stop()
        assert result.failures == [], (len(result.failures), result.failures[:5])
        assert set(result.statuses) == {200}, result.statuses
        assert all(result.versions[f"v{i}"] > 0 for i in range(2, RELOADS + 2)), result.versions
        # Every reload waited for the service's own READY=1: exact, no heuristic. (Generation 1 may
        # be seen accepting before its READY=1 arrives: hotgo has not yet seen it speak sd_notify.)
        notified = {r["generation"] for r in hotgo.events("ready", how="READY=1")}
        assert notified >= set(range(2, RELOADS + 2)), hotgo.transcript()


@pytest.mark.go
def test_plain_service_runs_in_mode_none_and_says_how_to_fix_it(tmp_path: Path) -> None:
    """Wording is the point of the two warnings (the one test of them)."""
    project = copy_sample(tmp_path, "plain")
    port = free_port()
    with Hotgo(["run", ".", "--", "-addr", f"127.0.0.1:{port}"], cwd=project) as hotgo:
        hotgo.wait_serving()
        # Mode none: ready is seen (the process listens), not guessed.
        assert hotgo.wait_event("ready", generation=1)["how"] == f"listening on 127.0.0.1:{port}"
        hotgo.wait_event("no_listen", message=re.compile(r"every reload stops the old process before the new one "
                                                         r"starts \(downtime\)"))
        hint = hotgo.wait_event("listen_hint", message=re.compile(rf"listens on 127\.0\.0\.1:{port}.*refuses "
                                                                  r"connections"))
        assert f"--listen 127.0.0.1:{port}" in hint["message"] and "hotgo.ListenAndServe" in hint["message"], hint
        set_version(project, "v2", main="main.go")
        hotgo.wait_serving(2)
        wait_for(lambda: field_of(get(port), "version") == "v2", 30, "v2 from the plain service")
