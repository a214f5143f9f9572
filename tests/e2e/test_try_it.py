"""The README's "Try it", as a newcomer runs it: samples/api as shipped (its hotgo.toml included)."""

from __future__ import annotations

import json
import signal
from pathlib import Path

import pytest
from harness import Hotgo, copy_sample, field_of, free_port, get, kill_processes_under, set_version, wait_for


@pytest.mark.go
def test_the_sample_as_shipped_serves_reloads_and_pushes_its_config(tmp_path: Path) -> None:
    project = copy_sample(tmp_path, "api", settings=True)
    port = free_port()
    config = project / "config" / "api.json"
    try:
        with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=project) as hotgo:
            hotgo.wait_serving(1)
            assert field_of(get(port), "version") == "v1"
            set_version(project, "v2")
            hotgo.wait_serving(2)
            wait_for(lambda: field_of(get(port), "version") == "v2", 30, "v2 served")
            builds = hotgo.count_events("build")

            # Edit the service's config: checked with the service's own -check-config, pushed, confirmed.
            settings = json.loads(config.read_text())
            config.write_text(json.dumps({**settings, "greeting": "pushed"}))
            push = hotgo.wait_event("config_push", result="confirmed")
            assert push["files"] == ["config/api.json"], push
            wait_for(lambda: field_of(get(port), "greeting") == "pushed", 10, "the pushed greeting served")

            # A file the service would refuse never reaches it.
            config.write_text(json.dumps({**settings, "rate": -1}))
            hotgo.wait_event("config_push", result="failed")
            assert field_of(get(port), "greeting") == "pushed"
            assert hotgo.count_events("build") == builds, "a config edit is pushed, never rebuilt"
            assert hotgo.interrupt(signal.SIGINT) == 0, hotgo.transcript()
    finally:
        kill_processes_under(tmp_path)
