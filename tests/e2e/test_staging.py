"""Staging mode: control endpoint, rollback, artifact deploys, JSON logs, systemd notify (issue 6)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict

import pytest
from harness import (
    Hotgo,
    Load,
    copy_sample,
    field_of,
    free_port,
    get,
    kill_processes_under,
    parse_records,
    set_version,
    wait_for,
)


def hotgo_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotgo", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def status(project: Path) -> Dict[str, Any]:
    result = hotgo_cli(["status", "--json"], project)
    assert result.returncode == 0, result.stderr
    state: Dict[str, Any] = json.loads(result.stdout)
    return state


def version_at(port: int) -> object:
    return field_of(get(port), "version")


def test_status_deploy_and_rollback_under_load(api_project: Path) -> None:
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        first = status(api_project)
        assert first["state"] == "ready" and first["generation"] == 1
        assert first["pid"] == int(field_of(get(port), "pid") or 0)
        assert first["binary"].endswith("/.hotgo/bin/api-1") and first["started_at"]
        assert first["last_build"] == {"result": "ok"} and first["last_config_push"]["result"] == "none"

        set_version(api_project, "v2")
        hotgo.wait_serving(2)
        second = status(api_project)
        assert second["generation"] == 2 and second["pid"] != first["pid"]
        assert second["binary"].endswith("/api-2") and second["rollback_to"].endswith("/api-1")

        with Load(port, clients=8, max_seconds=60) as load:
            result = hotgo_cli(["rollback"], api_project)
            assert result.returncode == 0, result.stderr
            wait_for(lambda: version_at(port) == "v1", 30, "v1 after rollback")
            hotgo.wait_serving(3)
            outcome = load.stop()
        assert outcome.failures == [] and set(outcome.statuses) == {200}, (outcome.failures[:3], outcome.statuses)
        third = status(api_project)
        assert third["binary"].endswith("/api-1") and third["generation"] == 3

        again = hotgo_cli(["rollback"], api_project)  # nothing older than api-1 served
        assert again.returncode == 1 and "no earlier good build" in again.stderr

        stop = hotgo_cli(["stop"], api_project)
        assert stop.returncode == 0, stop.stderr
        assert hotgo.proc.wait(30) == 0
        assert hotgo_cli(["status"], api_project).returncode == 1


def test_second_hotgo_on_the_same_project_is_refused(api_project: Path) -> None:
    """Wording is the point: the refusal names the hotgo already running."""
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{free_port()}"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        second = hotgo_cli(["run", "./cmd/api", "--listen", f"127.0.0.1:{free_port()}"], api_project)
        assert second.returncode == 2
        assert f"another hotgo (pid {hotgo.proc.pid}) is already running" in second.stderr


def _build(project: Path, version: str, output: Path) -> Path:
    set_version(project, version)
    subprocess.run(["go", "build", "-o", str(output), "./cmd/api"], cwd=project, check=True, timeout=300)
    return output


def test_artifact_mode_deploys_renamed_in_binaries_and_refuses_broken_ones(api_project: Path, tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    (staging / "bin").mkdir(parents=True)
    v2 = _build(api_project, "v2", tmp_path / "api-v2")
    _build(api_project, "v1", staging / "bin" / "api")
    port = free_port()
    with Hotgo(["run", "--binary", "bin/api", "--listen", f"127.0.0.1:{port}"], cwd=staging) as hotgo:
        hotgo.wait_serving()
        assert version_at(port) == "v1"
        # rsync style: a hidden temp file in the same directory, then rename over the binary.
        temp = staging / "bin" / ".api.Xa81Qz"
        shutil.copy2(v2, temp)
        os.rename(temp, staging / "bin" / "api")
        wait_for(lambda: version_at(port) == "v2", 30, "v2 deployed")
        hotgo.wait_serving(2)
        assert hotgo.count_events("build") == 2, hotgo.transcript()

        not_executable = staging / "bin" / ".api.tmp2"
        shutil.copyfile(v2, not_executable)  # no x bit
        os.chmod(not_executable, stat.S_IRUSR | stat.S_IWUSR)
        os.rename(not_executable, staging / "bin" / "api")
        hotgo.wait_event("deploy_failed")
        assert version_at(port) == "v2"

        truncated = staging / "bin" / ".api.tmp3"
        truncated.write_bytes(v2.read_bytes()[: v2.stat().st_size // 3])
        os.chmod(truncated, 0o755)
        os.rename(truncated, staging / "bin" / "api")
        hotgo.wait_event("failed_start")
        assert version_at(port) == "v2"
        assert hotgo.count_events("done") == 2, hotgo.transcript()


def test_artifact_mode_follows_a_current_symlink_to_a_new_release(api_project: Path, tmp_path: Path) -> None:
    staging = tmp_path / "deploy"
    for version in ("v1", "v2"):
        (staging / "releases" / version).mkdir(parents=True)
        _build(api_project, version, staging / "releases" / version / "api")
    os.symlink("releases/v1", staging / "current")
    port = free_port()
    with Hotgo(["run", "--binary", "current/api", "--listen", f"127.0.0.1:{port}"], cwd=staging) as hotgo:
        hotgo.wait_serving()
        assert version_at(port) == "v1"
        os.symlink("releases/v2", staging / "current.new")
        os.rename(staging / "current.new", staging / "current")  # the atomic switch
        wait_for(lambda: version_at(port) == "v2", 30, "v2 after the symlink switch")
        hotgo.wait_event("build", generation=2)


@pytest.mark.go
def test_control_socket_is_private_and_another_user_is_refused() -> None:
    # Outside pytest's 0700 tmp dir, so that only the socket's own mode stands in the way.
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("Unix sockets and users are POSIX")
    base = Path(tempfile.mkdtemp(prefix="hotgo-perm-"))
    os.chmod(base, 0o755)
    project = copy_sample(base, "api")
    hotgo = Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{free_port()}"], cwd=project)
    try:
        hotgo.wait_serving()
        endpoint = (project / ".hotgo/run/control").read_text()
        assert endpoint.startswith("unix:")
        sock_path = Path(endpoint[5:])
        assert stat.S_IMODE(sock_path.stat().st_mode) == 0o600
        assert stat.S_IMODE((project / ".hotgo/run").stat().st_mode) == 0o700
        system_python = shutil.which("python3", path="/usr/bin:/bin")
        if os.geteuid() != 0 or shutil.which("useradd") is None or system_python is None:
            pytest.skip("needs root, useradd and a python3 every user can run")
        name = "hotgotest"
        try:
            pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--no-create-home", name], check=True, capture_output=True)
        other = pwd.getpwnam(name)
        # Even with the run directory opened up, the 0600 socket refuses the other user.
        os.chmod(project / ".hotgo/run", 0o755)
        probe = f"import socket; s = socket.socket(socket.AF_UNIX); s.connect({str(sock_path)!r})"
        result = subprocess.run([system_python, "-c", probe], user=other.pw_uid, group=other.pw_gid,
                                capture_output=True, text=True, timeout=30, cwd="/")
        assert result.returncode != 0 and "PermissionError" in result.stderr, result
        assert status(project)["state"] == "ready"  # while the owner still gets in
    finally:
        hotgo.close()
        kill_processes_under(base)
        shutil.rmtree(base, ignore_errors=True)


def test_json_logs_parse_and_a_deploy_emits_its_events(api_project: Path) -> None:
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--log-format", "json"], cwd=api_project) as hotgo:
        hotgo.wait_event("done")
        set_version(api_project, "v2")
        hotgo.wait_event("done", occurrences=2)
        records = [json.loads(line) for line in hotgo.lines]  # every line parses
        assert all({"time", "level", "event", "message"} <= set(r) for r in records)
        deploy = [r["event"] for r in records if r.get("generation") == 2 and r["event"] != "output"]
        for event in ("build", "built", "start", "ready", "done"):
            assert event in deploy, deploy
        assert any(r["event"] == "drain" and r["generation"] == 1 for r in records)
        assert any(r["event"] == "output" and r["generation"] == 2 and r.get("pid") for r in records)


def test_hotgo_tells_its_own_supervisor_ready(api_project: Path, tmp_path: Path) -> None:
    """The test plays systemd (Type=notify): a datagram socket in NOTIFY_SOCKET."""
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("NOTIFY_SOCKET is a Unix datagram socket")
    path = tmp_path / "systemd-notify.sock"
    supervisor = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    supervisor.bind(str(path))
    supervisor.settimeout(120)
    hotgo = Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{free_port()}"], cwd=api_project,
                  env={"NOTIFY_SOCKET": str(path)})
    try:
        message = supervisor.recv(4096).decode()
        assert "READY=1" in message and f"MAINPID={hotgo.proc.pid}" in message
        # hotgo logs "ready" before it notifies; the test reads that line through a pipe, maybe later.
        hotgo.wait_event("ready", generation=1, timeout=10)
        assert hotgo.interrupt() == 0
        supervisor.settimeout(5)
        assert "STOPPING=1" in supervisor.recv(4096).decode()
    finally:
        supervisor.close()
        hotgo.close()


def test_a_deploy_that_crash_loops_is_given_up_and_the_previous_build_serves(api_project: Path) -> None:
    from harness import CRASHES_AFTER_READY

    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        (api_project / "cmd/api/main.go").write_text(CRASHES_AFTER_READY)
        hotgo.wait_event("gave_up", timeout=90)
        wait_for(lambda: version_at(port) == "v1", 30, "the previous build serving again")
        state = status(api_project)
        assert state["binary"].endswith("/api-1") and state["state"] == "ready"
        assert state["note"].startswith("gave up on api-2")


def served_in(log_file: Path, generation: int) -> bool:
    """The JSON log file says `generation` serves (its `done` event)."""
    return log_file.exists() and any(r["event"] == "done" and r.get("generation") == generation
                                     for r in parse_records(log_file.read_text()))


def test_log_file_is_reopened_on_sigusr1(api_project: Path, tmp_path: Path) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("SIGUSR1 is POSIX")
    log_file = tmp_path / "logs" / "hotgo.log"
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--log-file", str(log_file)],
               cwd=api_project) as hotgo:
        wait_for(lambda: served_in(log_file, 1), 120, "the first generation in the log file")
        rotated = log_file.with_name("hotgo.log.old")
        os.rename(log_file, rotated)  # what logrotate does, then it signals
        hotgo.proc.send_signal(signal.SIGUSR1)
        wait_for(log_file.exists, 10, "a fresh log file")
        set_version(api_project, "v2")
        wait_for(lambda: served_in(log_file, 2), 60, "generation 2 in the fresh file")
        assert not served_in(rotated, 2)
        assert hotgo.output == ""  # nothing on stdout with --log-file


def test_reload_command_rebuilds_and_hands_off(api_project: Path) -> None:
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        pid = field_of(get(port), "pid")
        result = hotgo_cli(["reload"], api_project)
        assert result.returncode == 0 and "rebuilding" in result.stdout, result
        hotgo.wait_serving(2)
        assert field_of(get(port), "pid") != pid
        assert status(api_project)["generation"] == 2
