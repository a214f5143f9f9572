"""hotgo.toml: checked before anything starts; hotgo init; docs/reference.md's settings table in sync (issue 3)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
from harness import REPO, Hotgo, field_of, free_port, get, wait_for

from hotgo.init.reference_table import reference_table


def hotgo_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotgo", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env={**os.environ, "NO_COLOR": "1"})


# (file content, the line the message must name, words the message must contain)
MALFORMED = [
    ("[run]\ndrain_timout = \"2s\"\n", 2, ["drain_timout", "did you mean `drain_timeout`"]),
    ("[run]\nready_timeout = \"soon\"\n", 2, ["ready_timeout", "not a duration"]),
    ("[run]\ndrain_timeout = true\n", 2, ["drain_timeout", "expected a string"]),
    ("[run]\nstop_signal = \"SIGNOPE\"\n", 2, ["stop_signal", "not a signal name"]),
    ("[run]\nlisten = [\"8080\"]\n", 2, ["listen", "HOST:PORT"]),
    ("[run]\nlisten = \"127.0.0.1:99999\"\n", 2, ["listen", "0..65535"]),
    ("[run]\nsocket = \"shared\"\n", 2, ["socket", "inherit, reuseport, none"]),
    ("[run]\nready = \"sometimes\"\n", 2, ["ready", "'notify'"]),
    ("[run]\nenv_file = \"missing.env\"\n", 2, ["env_file", "does not exist"]),
    ("[run]\nenv = \"A=B\"\n", 2, ["env", "expected a table"]),
    ("[run]\nargs = \"--verbose\"\nenv = { A = [1] }\n", 3, ["env", "expected a string"]),
    ("[build]\nkeep = \"three\"\n", 2, ["keep", "whole number"]),
    ("[build]\nflags = 3\n", 2, ["flags", "list of strings"]),
    ("[build]\nlisten = [\":8080\"]\n", 2, ["listen", "belongs in [run]"]),
    ("[watch]\ninclude = [\"[abc\"]\n", 2, ["include", "without a closing"]),
    ("[watch]\nsettle = \"-5ms\"\n", 2, ["settle", "not a duration"]),
    ("[watch]\npoll = \"maybe\"\n", 2, ["poll", "true or false"]),
    ("[wacth]\npoll = true\n", 1, ["wacth", "did you mean [watch]"]),
    ("\n\n[run\nlisten = 1\n", 3, ["TOML syntax error"]),
    ("[run]\nlisten = [\":8080\",\n", 3, ["TOML syntax error"]),
    ("run = 5\n", 1, ["`run` must be a table"]),
]


@pytest.mark.parametrize(("content", "line", "words"), MALFORMED)
def test_malformed_config_is_one_line_with_file_line_and_key(api_project: Path, content: str, line: int,
                                                               words: list[str]) -> None:
    (api_project / "hotgo.toml").write_text(content)
    result = hotgo_cli(["run", "./cmd/api"], api_project)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr
    message = result.stderr.strip()
    assert "\n" not in message, message
    assert re.match(rf"hotgo: error: {re.escape(str(api_project / 'hotgo.toml'))}:{line}: ", message), message
    for word in words:
        assert word in message, message


def test_init_proposes_package_and_listen_and_round_trips(api_project: Path) -> None:
    (api_project / ".gitignore").write_text("bin/")
    result = hotgo_cli(["init"], api_project)
    assert result.returncode == 0, result.stderr
    text = (api_project / "hotgo.toml").read_text()
    assert 'package = "./cmd/api"' in text
    assert 'listen = ["127.0.0.1:8080"]' in text
    assert 'files = ["config/api.json"]' in text  # the -config flag's default
    assert 'push = "signal:SIGHUP"' in text  # the helper's reloadSignals
    assert (api_project / ".gitignore").read_text() == "bin/\n.hotgo/\n"
    assert hotgo_cli(["init"], api_project).returncode == 2  # refuses to overwrite
    assert hotgo_cli(["init", "--force"], api_project).returncode == 0

    # Every key hotgo init wrote is accepted and behaves as the default: run with it.
    port = free_port()
    toml = api_project / "hotgo.toml"
    toml.write_text(toml.read_text().replace("127.0.0.1:8080", f"127.0.0.1:{port}"))
    with Hotgo(["run"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        assert field_of(get(port), "version") == "v1"
        assert hotgo.events("ready")[0]["how"] == "READY=1", hotgo.transcript()


def test_flags_win_over_file_and_env_file_reaches_the_service(api_project: Path) -> None:
    port = free_port()
    (api_project / "app.env").write_text("# comment\nexport API_NOTE='from file'\nOTHER=\"x\"\n")
    (api_project / "hotgo.toml").write_text(
        '[run]\nlisten = ["127.0.0.1:1"]\nenv_file = "app.env"\nenv = { OTHER = "y" }\n'
        'drain_timeout = "3s"\n'
    )
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        pid = int(field_of(get(port), "pid") or 0)
        env = wait_for(lambda: _environ(pid), 5, "service environment")
        assert env.get("API_NOTE") == "from file" and env.get("OTHER") == "y"
        assert "from file" not in hotgo.output  # values are never logged


def _environ(pid: int) -> dict[str, str]:
    import psutil

    try:
        return psutil.Process(pid).environ()
    except psutil.Error:
        return {}


def test_declared_defaults_are_the_settings_defaults() -> None:
    import dataclasses

    from hotgo.settings.schema import SETTINGS, Settings

    fields = {f.name: f for f in dataclasses.fields(Settings)}
    assert set(fields) == {s.dest for s in SETTINGS}
    defaults = Settings()
    for setting in SETTINGS:
        value = getattr(defaults, setting.dest)
        assert value == setting.default or value == setting.convert(setting.default), setting.dest


def test_reference_settings_table_matches_the_declared_settings() -> None:
    reference = (REPO / "docs" / "reference.md").read_text(encoding="utf-8")
    block = reference.split("<!-- settings:start -->\n", 1)[1].split("\n<!-- settings:end -->", 1)[0]
    assert block == reference_table(), "docs/reference.md's settings table: paste reference_table() (CONTRIBUTING.md)"


def test_byte_order_marks_are_skipped_and_a_pattern_naming_one_command_builds_it(api_project: Path) -> None:
    """Editors on Windows write a UTF-8 BOM before the text: hotgo.toml and an env file with one read as
    without (issue 23). `./cmd/...` names one command: that one is built."""
    port = free_port()
    (api_project / "dev.env").write_bytes(b"\xef\xbb\xbfFROM_ENV_FILE=1\n")
    (api_project / "hotgo.toml").write_bytes(
        b'\xef\xbb\xbf[build]\npackage = "./cmd/..."\n[run]\nenv_file = "dev.env"\n'
        + f'listen = ["127.0.0.1:{port}"]\n'.encode())
    with Hotgo(["run"], cwd=api_project) as hotgo:
        hotgo.wait_serving()
        assert field_of(get(port), "version") == "v1"
        assert "./cmd/api in " in hotgo.events("start_hotgo")[0]["message"], hotgo.transcript()
        service = psutil.Process(hotgo.service_pids()[0])
        assert service.environ().get("FROM_ENV_FILE") == "1", hotgo.transcript()
