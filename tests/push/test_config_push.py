"""Config-only changes are checked and pushed to the running process, never rebuilt (issue 5)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from harness import Hotgo, Load, field_of, free_port, get, wait_for

CONFIG = "config/api.json"


def start(project: Path, port: int, push: str = "signal:SIGHUP", files: str = '["config/*.json"]') -> Hotgo:
    (project / "hotgo.toml").write_text(
        f'[run]\nlisten = ["127.0.0.1:{port}"]\n\n[config]\nfiles = {files}\npush = "{push}"\n'
        'min_interval = "100ms"\n'
    )
    hotgo = Hotgo(["run", "./cmd/api"], cwd=project)
    try:
        hotgo.wait_serving()
    except BaseException:
        hotgo.close()
        raise
    return hotgo


def write_config(project: Path, greeting: str, rate: int = 10) -> None:
    (project / CONFIG).write_text(json.dumps({"greeting": greeting, "rate": rate}))


def greeting(port: int) -> object:
    return field_of(get(port), "greeting")


def pushes(hotgo: Hotgo) -> int:
    return hotgo.count_events("config_changed")


def test_edit_is_pushed_to_the_same_process_without_a_build(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port) as hotgo:
        pid = field_of(get(port), "pid")
        write_config(api_project, "bonjour")
        wait_for(lambda: greeting(port) == "bonjour", 15, "the new greeting")
        assert field_of(get(port), "pid") == pid
        hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="confirmed")
        assert hotgo.count_events("build") == 1, hotgo.transcript()
        result = subprocess.run([sys.executable, "-m", "hotgo", "status", "--json"], cwd=api_project,
                                capture_output=True, text=True, timeout=60)
        push = json.loads(result.stdout)["last_config_push"]
        assert push["result"] == "confirmed" and push["files"] == ["config/api.json"] and push["when"], push


def test_invalid_file_is_not_pushed_and_the_fix_is(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port) as hotgo:
        pid = field_of(get(port), "pid")
        (api_project / CONFIG).write_text('{"greeting": "oops",\n "rate": }\n')
        hotgo.wait_event("config_push", files=[CONFIG], result="failed")
        assert pushes(hotgo) == 0, hotgo.transcript()
        assert greeting(port) == "hello" and field_of(get(port), "pid") == pid
        write_config(api_project, "fixed")
        wait_for(lambda: greeting(port) == "fixed", 15, "the fixed greeting")
        assert field_of(get(port), "pid") == pid


def test_service_rejecting_the_reload_is_reported_with_its_message(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port) as hotgo:
        write_config(api_project, "negative", rate=-1)
        failed = hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="failed")
        assert "rate must be positive, got -1" in failed["message"], failed  # the service's own words
        assert greeting(port) == "hello"


def test_configmap_atomic_swap_is_one_push(api_project: Path) -> None:
    """What the kubelet's atomic writer does to a ConfigMap volume."""
    port = free_port()
    volume = api_project / "config"
    (volume / "api.json").unlink()
    first = volume / "..2026_11_26_00_00_00.000000001"
    first.mkdir()
    (first / "api.json").write_text(json.dumps({"greeting": "k8s1", "rate": 1}))
    os.symlink(first.name, volume / "..data")
    os.symlink("..data/api.json", volume / "api.json")
    with start(api_project, port) as hotgo:
        assert greeting(port) == "k8s1"
        second = volume / "..2026_11_26_00_01_00.000000002"
        second.mkdir()
        (second / "api.json").write_text(json.dumps({"greeting": "k8s2", "rate": 2}))
        os.symlink(second.name, volume / "..data_tmp")
        os.rename(volume / "..data_tmp", volume / "..data")
        for leftover in first.iterdir():
            leftover.unlink()
        first.rmdir()
        wait_for(lambda: greeting(port) == "k8s2", 15, "the swapped ConfigMap content")
        hotgo.wait_event("config_push", generation=1, result="confirmed")
        write_config_marker = volume / "..data"  # a later push proves no second push was pending
        assert write_config_marker.exists()
        assert pushes(hotgo) == 1, hotgo.transcript()
        assert hotgo.count_events("build") == 1


def test_storm_of_fifty_writes_is_coalesced_and_the_last_wins(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port) as hotgo:
        started = time.monotonic()
        for i in range(50):
            write_config(api_project, f"storm{i}")
            time.sleep(0.004)
        assert time.monotonic() - started < 1.0
        wait_for(lambda: greeting(port) == "storm49", 15, "the last written greeting")
        hotgo.wait_event("config_push", generation=1, result="confirmed")
        assert 1 <= pushes(hotgo) <= 2, hotgo.transcript()


def test_http_push_method(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port, push="http:POST http://127.0.0.1:{port}/-/reload") as hotgo:
        write_config(api_project, "viahttp")
        hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="confirmed")
        assert greeting(port) == "viahttp"
        write_config(api_project, "bad", rate=0)
        failed = hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="failed")
        assert "rate must be positive" in failed["message"], failed  # the service's answer


def test_restart_push_method_hands_off_with_zero_failed_requests(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port, push="restart") as hotgo:
        pid = field_of(get(port), "pid")
        with Load(port, clients=8, max_seconds=60) as load:
            write_config(api_project, "restarted")
            wait_for(lambda: greeting(port) == "restarted", 30, "the restarted generation")
            result = load.stop()
        # Both generations accept on the shared socket until the old one has its stop signal.
        wait_for(lambda: field_of(get(port), "pid") not in (None, pid), 10, "only the fresh process answering")
        hotgo.wait_event("config_push", generation=1, files=[CONFIG], result="confirmed")
        assert hotgo.events("ready", generation=2), hotgo.transcript()  # the fresh process
        assert result.failures == [] and set(result.statuses) == {200}, (result.failures[:3], result.statuses)
        assert hotgo.count_events("build") == 1
