"""Bad input never crashes or hangs hotgo: one line naming the fix, exit 2 (issue 12).

Each case runs the real CLI in a copy of the sample project; nothing here needs a
build to succeed, because every check happens before the first build.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional

import pytest
from harness import free_port


def hotgo_cli(args: List[str], cwd: Path, stdout: Optional[int] = subprocess.PIPE,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotgo", *args], cwd=cwd, stdout=stdout, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, env={**os.environ, "NO_COLOR": "1"},
                          stdin=subprocess.DEVNULL)


def one_line_error(result: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The run failed with `code` and said so in exactly one line, without an internal error."""
    output = (result.stdout or "") + result.stderr
    assert result.returncode == code, output
    assert "Traceback" not in output and "internal error" not in output, output
    message = result.stderr.strip()
    assert message.startswith("hotgo: error: ") and "\n" not in message, output
    return message


# (hotgo.toml content, words the message must contain): each would do harm later if accepted.
HARMFUL_DURATIONS = [
    ("[run]\nready_timeout = inf\n", ["hotgo.toml:2: [run] ready_timeout", "longer than a week"]),
    ("[run]\ndrain_timeout = nan\n", ["hotgo.toml:2: [run] drain_timeout", "not a number"]),
    ("[run]\ndrain_timeout = \"99999999999999h\"\n", ["hotgo.toml:2:", "longer than a week"]),
    ("[run]\nready_timeout = 0\n", ["hotgo.toml:2: [run] ready_timeout", "more than 0"]),
    ("[run]\nready_timeout = \"0s\"\n", ["hotgo.toml:2: [run] ready_timeout", "more than 0"]),
    ("[run]\nready_timeout = -1\n", ["hotgo.toml:2: [run] ready_timeout", "more than 0"]),
    ("[watch]\nsettle = -0.5\n", ["hotgo.toml:2: [watch] settle", "0 or more"]),
    ("[watch]\nmax_wait = -inf\n", ["hotgo.toml:2: [watch] max_wait", "0 or more"]),
    ("[config]\nack_timeout = 0.0\n", ["hotgo.toml:2: [config] ack_timeout", "more than 0"]),
    ("[run]\nready = \"delay:99999999999h\"\n", ["hotgo.toml:2: [run] ready", "longer than a week"]),
]


@pytest.mark.parametrize(("content", "words"), HARMFUL_DURATIONS)
def test_harmful_durations_in_the_file_are_refused(api_project: Path, content: str, words: List[str]) -> None:
    (api_project / "hotgo.toml").write_text(content)
    message = one_line_error(hotgo_cli(["run", "./cmd/api"], api_project))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(("flag", "value", "words"), [
    ("--ready-timeout", "0", ["--ready-timeout", "more than 0"]),
    ("--ready-timeout", "0s", ["--ready-timeout", "more than 0"]),
    ("--drain-timeout", "99999999999999h", ["--drain-timeout", "longer than a week"]),
    ("--settle", "inf", ["--settle", "not a duration"]),
    ("--max-wait", "nan", ["--max-wait", "not a duration"]),
])
def test_harmful_durations_as_flags_are_refused(api_project: Path, flag: str, value: str, words: List[str]) -> None:
    message = one_line_error(hotgo_cli(["run", "./cmd/api", f"{flag}={value}"], api_project))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("glob", ["[z-a]", "[]", "[!]"])
def test_invalid_character_class_in_a_glob(api_project: Path, glob: str) -> None:
    (api_project / "hotgo.toml").write_text(f'[watch]\nexclude = ["vendor/", "{glob}"]\n')
    message = one_line_error(hotgo_cli(["run", "./cmd/api"], api_project))
    assert "hotgo.toml:2: [watch] exclude: glob" in message and "character class" in message, message


def test_watch_path_that_does_not_exist(api_project: Path) -> None:
    (api_project / "lib").mkdir()
    (api_project / "hotgo.toml").write_text('[build]\npackage = "./cmd/api"\n[watch]\npaths = ["lib", "../shared"]\n')
    message = one_line_error(hotgo_cli(["run"], api_project))
    assert "hotgo.toml:4: [watch] paths: '../shared' does not exist" in message, message


@pytest.mark.parametrize("target", ["a directory", "below a file"])
def test_unusable_log_file(api_project: Path, target: str) -> None:
    path = api_project / "logs"
    path.mkdir()
    if target == "below a file":
        (path / "file").write_text("")
        path = path / "file" / "hotgo.log"
    message = one_line_error(hotgo_cli(["run", "./cmd/api", "--log-file", str(path)], api_project))
    assert f"--log-file {path}" in message and "name a file hotgo can append to" in message, message


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root may append to a read-only file")
def test_read_only_log_file(api_project: Path) -> None:
    path = api_project / "hotgo.log"
    path.write_text("")
    path.chmod(0o444)
    message = one_line_error(hotgo_cli(["run", "./cmd/api", "--log-file", str(path)], api_project))
    assert "permission denied" in message, message


@pytest.mark.skipif(sys.platform == "win32", reason="Windows cannot remove the current directory of a process")
def test_deleted_working_directory(tmp_path: Path) -> None:
    gone = tmp_path / "gone"
    gone.mkdir()
    script = (f"import os, sys, runpy; os.chdir({str(gone)!r}); os.rmdir({str(gone)!r}); "
              "sys.argv = ['hotgo', 'run']; runpy.run_module('hotgo', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    message = one_line_error(result)
    assert "current directory no longer exists" in message, message


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX fd semantics")
def test_closed_stdout(api_project: Path) -> None:
    # `>&-`: hotgo starts with no fd 1 at all (Python then has no sys.stdout)
    result = subprocess.run(["/bin/sh", "-c", 'exec "$0" -m hotgo run ./cmd/api >&-', sys.executable],
                            cwd=api_project, stderr=subprocess.PIPE, text=True, timeout=60)
    message = one_line_error(result)
    assert "stdout is closed" in message and "--log-file" in message, message


@pytest.mark.parametrize("control", ["garbage", "directory", "unknown endpoint"])
def test_garbage_control_file_means_no_hotgo_running(api_project: Path, control: str) -> None:
    run_dir = api_project / ".hotgo" / "run"
    run_dir.mkdir(parents=True)
    if control == "garbage":
        (run_dir / "control").write_bytes(bytes(range(256)))
    elif control == "directory":
        (run_dir / "control").mkdir()
    else:
        (run_dir / "control").write_text("carrier-pigeon:42")
    for command in ("status", "reload", "stop"):
        message = one_line_error(hotgo_cli([command], api_project), code=1)
        assert "no hotgo is running for this project" in message and "remove it" in message, message
    if control == "directory":  # and `hotgo run` says what to remove instead of failing inside
        port = free_port()
        result = hotgo_cli(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--ready-timeout", "5s"],
                           api_project)
        message = one_line_error(result)
        assert f"{run_dir / 'control'} is a directory; remove it" in message, message


@pytest.mark.parametrize("kind", ["directory", "symlink loop", "dangling symlink"])
def test_unreadable_hotgo_toml_is_not_silently_ignored(api_project: Path, kind: str) -> None:
    config = api_project / "hotgo.toml"
    if kind == "directory":
        config.mkdir()
    elif kind == "symlink loop":
        config.symlink_to("hotgo.toml")
    else:
        config.symlink_to("nowhere.toml")
    message = one_line_error(hotgo_cli(["run", "./cmd/api"], api_project))
    assert str(config) in message and ("remove" in message), message
    message = one_line_error(hotgo_cli(["run", "./cmd/api", "--config", str(config)], api_project))
    assert str(config) in message, message


def test_pkg_and_binary_exclude_each_other(api_project: Path) -> None:
    message = one_line_error(hotgo_cli(["run", "./cmd/api", "--binary", "bin/api"], api_project))
    assert "PKG './cmd/api' and --binary exclude each other" in message, message


def test_listen_twice_is_named_not_blamed_on_hotgo(api_project: Path) -> None:
    port = free_port()
    message = one_line_error(hotgo_cli(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}",
                                        "--listen", f"127.0.0.1:{port}"], api_project))
    assert "listed twice" in message and "pid" not in message, message
    message = one_line_error(hotgo_cli(["run", "./cmd/api", "--listen", f":{port}",
                                        "--listen", f"127.0.0.1:{port}"], api_project))
    assert "overlaps another --listen address of this hotgo" in message and f"pid {os.getpid()}" not in message


@pytest.mark.parametrize(("args", "help_of"), [(["--bogus"], "hotgo --help"), (["run", "--bogus"], "hotgo run --help"),
                                               (["status", "--bogus"], "hotgo status --help")])
def test_unknown_flag_points_at_the_right_help(api_project: Path, args: List[str], help_of: str) -> None:
    message = one_line_error(hotgo_cli(args, api_project))
    assert f"(see `{help_of}`)" in message and "hotgo hotgo" not in message, message


@pytest.mark.parametrize(("content", "line", "key"), [
    ("[build]\npackage = \"./cmd/api\"\nkeep = 0\n", 3, "[build] keep"),
    ("[run]\n\nsocket = \"inherit\"\n", 3, "[run] socket"),
])
def test_cross_setting_errors_name_file_and_line(api_project: Path, content: str, line: int, key: str) -> None:
    (api_project / "hotgo.toml").write_text(content)
    message = one_line_error(hotgo_cli(["run", "./cmd/api"], api_project))
    assert f"{api_project / 'hotgo.toml'}:{line}: {key}: " in message, message
