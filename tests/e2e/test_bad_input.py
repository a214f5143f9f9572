"""Bad input never crashes or hangs hotgo: one line naming the fix, exit 2 (issue 12).

Each case runs the real CLI in a copy of the sample project; nothing here needs a
build to succeed, because every check happens before the first build.
"""

from __future__ import annotations

import os
import shutil
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


# -- issue 23: no value reaches the OS unchecked ---------------------------------------------------
LONG = "a" * 5000
NUL = "\\u0000"  # as a TOML basic string writes it
ALLOWED_NUL = "holds a NUL byte"
PKG = '[build]\npackage = "./cmd/api"\n'

# (hotgo.toml, the message's start after the file name, words it must contain); each was an internal
# error, a hang or a setting accepted and useless, in the hostile-user hunt.
HOSTILE = [
    (f'[build]\npackage = "./cmd/{NUL}api"\n', "2: [build] package: ", [ALLOWED_NUL, "remove it"]),
    (f'{PKG}flags = ["-tags=a{NUL}b"]\n', "3: [build] flags: ", [ALLOWED_NUL]),
    (f'{PKG}env = {{ CGO_ENABLED = "0{NUL}" }}\n', "3: [build] env: ", ["the value of 'CGO_ENABLED'", ALLOWED_NUL]),
    (f'{PKG}[run]\nbinary = "bin/a{NUL}pi"\n', "4: [run] binary: ", [ALLOWED_NUL]),
    (f'{PKG}[run]\nenv_file = "a{NUL}.env"\n', "4: [run] env_file: ", [ALLOWED_NUL]),
    (f'{PKG}[run]\nargs = ["-v", "a{NUL}b"]\n', "4: [run] args: ", [ALLOWED_NUL]),
    (f'{PKG}[run]\nenv = {{ TOKEN = "se{NUL}cret" }}\n', "4: [run] env: ", ["the value of 'TOKEN'", ALLOWED_NUL]),
    (f'{PKG}[run]\nlisten = ["a{NUL}pi=127.0.0.1:0"]\n', "4: [run] listen: ", [ALLOWED_NUL]),
    (f'[build]\npackage = "./cmd/{LONG}"\n', "2: [build] package: ", ["5,000 bytes long", "at most 255 bytes"]),
    (f'[build]\npackage = "example.com/api/{LONG}"\n', "2: [build] package: ", ["at most 255 bytes"]),
    (f'{PKG}[run]\nbinary = "{LONG}"\n', "4: [run] binary: ", ["a file name holds at most 255 bytes"]),
    (f'{PKG}[run]\nenv_file = "{"d/" * 2100}x.env"\n', "4: [run] env_file: ", ["a path holds at most"]),
    (f'{PKG}env = {{ "GOOS=linux" = "x" }}\n', "3: [build] env: ", ["'GOOS=linux' holds '='"]),
    (f'{PKG}[run]\nenv = {{ "A=B" = "c" }}\n', "4: [run] env: ", ["'A=B' holds '='", "without '='"]),
    (f'{PKG}[run]\nenv = {{ "" = "c" }}\n', "4: [run] env: ", ["needs a name"]),
    (f'{PKG}keep = "{"9" * 5000}"\n', "3: [build] keep: ", ["5,000 characters", "1..1000"]),
    (f'{PKG}keep = "³"\n', "3: [build] keep: ", ["digits 0-9", "keep = 3"]),
    (f'{PKG}keep = 1001\n', "3: [build] keep: ", ["1..1000"]),
    ('[build]\npackage = "-toolexec=x"\n', "2: [build] package: ", ["read as a flag of `go build`"]),
    (f'{PKG}[run]\nlisten = ["{"h" * 300}:8080"]\n', "4: [run] listen: ", ["at most 253 characters"]),
    (f'{PKG}[run]\nlisten = [":８０８０"]\n', "4: [run] listen: ", ["digits 0-9"]),
    (f'{PKG}[config]\nfiles = ["config/**"]\npush = "http:POST http://127.0.0.1:99999/-/reload"\n',
     "5: [config] push: ", ["port must be a number 1..65535"]),
    (f'{PKG}[config]\nfiles = ["config/**"]\npush = "http:POST http://127.0.0.1:abc/-/reload"\n',
     "5: [config] push: ", ["port must be a number 1..65535"]),
    (f'{PKG}[config]\npush = "http:POST http://127.0.0.1:{{port}}/re load"\n', "4: [config] push: ", ["%20"]),
    (f'{PKG}[run]\nready = "http:/héalthz"\n', "4: [run] ready: ", ["printable ASCII"]),
    (f'{PKG}[config]\nfiles = ["config/**"]\nvalidate = "./config {{file}}"\n', "5: [config] validate: ",
     ["'./config' is a directory, not a program"]),
    (f'{PKG}[config]\nfiles = ["config/**"]\nvalidate = "./config/api.json {{file}}"\n',
     "5: [config] validate: ", ["is not executable", "chmod +x"]),
    (f'{PKG}[config]\nvalidate = "./bin/check {{file}}"\n', "4: [config] validate: ", ["does not exist"]),
    (f'{PKG}[config]\nvalidate = "no-such-checker-23 {{file}}"\n', "4: [config] validate: ", ["not a program on PATH"]),
]


@pytest.mark.parametrize(("content", "start", "words"), HOSTILE,
                         ids=[f"{i}-{c.splitlines()[-1][:30]}" for i, (c, _, _) in enumerate(HOSTILE)])
def test_hostile_values_in_the_file_are_one_line_at_start(api_project: Path, content: str, start: str,
                                                         words: List[str]) -> None:
    if "not executable" in words and not sys.platform.startswith(("linux", "darwin")):
        pytest.skip("the x permission bit")
    config = api_project / "hotgo.toml"
    config.write_text(content, encoding="utf-8")
    message = one_line_error(hotgo_cli(["run", "--ready-timeout", "5s"], api_project))
    assert message.startswith(f"hotgo: error: {config}:{start}"), message
    for word in words:
        assert word in message, message
    assert len(message) < 400 + len(str(config)), message  # a 5,000-character value is not repeated whole
    assert "se\\x00cret" not in message and "0\\x00" not in message  # an environment's values are never shown


@pytest.mark.parametrize(("args", "words"), [
    ([f"./cmd/{LONG}"], ["PKG: ", "at most 255 bytes"]),
    (["./cmd/api", "--binary", LONG], ["--binary: ", "at most 255 bytes"]),
    (["./cmd/api", "--env-file", "d/" * 2100], ["--env-file: ", "a path holds at most"]),
    (["./cmd/api", "--listen", f"{'h' * 300}:8080"], ["--listen: ", "at most 253 characters"]),
    (["./cmd/api", "--config", LONG], ["--config: ", "at most 255 bytes"]),
    (["./cmd/api", "--log-file", LONG], ["--log-file: ", "at most 255 bytes"]),
    (["./cmd/api", "--ready", "delay:٣s"], ["--ready: ", "not a duration"]),
])
def test_hostile_flags_are_one_line_at_start(api_project: Path, args: List[str], words: List[str]) -> None:
    message = one_line_error(hotgo_cli(["run", *args], api_project))
    assert message.startswith(f"hotgo: error: {words[0]}"), message
    for word in words[1:]:
        assert word in message, message


@pytest.mark.parametrize(("content", "words"), [
    (b"A=1\nTOKEN=xy\x00zzy\n", ["secret.env:2: TOKEN: the value holds a NUL byte"]),
    ("A=café\n".encode("latin-1"), ["secret.env:1: not UTF-8 text: byte 0xe9 at column 6", "'é' in Latin-1",
                                    "save the file as UTF-8"]),
    ("A=1\n".encode("utf-16"), ["secret.env:1: UTF-16 text", "save it as UTF-8"]),
])
def test_a_bad_env_file_is_named_with_its_line(api_project: Path, content: bytes, words: List[str]) -> None:
    (api_project / "secret.env").write_bytes(content)
    (api_project / "hotgo.toml").write_text(f'{PKG}[run]\nenv_file = "secret.env"\n')
    message = one_line_error(hotgo_cli(["run"], api_project))
    for word in words:
        assert word in message, message
    assert "zzy" not in message, message  # the value is never shown


def test_a_pattern_naming_two_commands_is_refused_with_the_list(api_project: Path) -> None:
    (api_project / "cmd" / "other").mkdir()
    shutil.copy(api_project / "cmd" / "api" / "main.go", api_project / "cmd" / "other" / "main.go")
    for pattern in ("./...", "./cmd/...", "example.com/api/cmd/..."):
        message = one_line_error(hotgo_cli(["run", pattern], api_project))
        assert (f"package {pattern} names 2 main packages (./cmd/api, ./cmd/other): hotgo builds and runs one; "
                "name it, e.g. hotgo run ./cmd/api") in message, message



@pytest.mark.parametrize(("build_line", "words"), [
    ("//go:build ignore", ["build constraints exclude all Go files", "`//go:build ignore`", "`go run FILE`"]),
    ("//go:build integration", ["build constraints exclude all Go files", "--build-flags=-tags=integration"]),
])
def test_a_package_excluded_by_build_constraints_names_the_fix(api_project: Path, build_line: str,
                                                               words: List[str]) -> None:
    tagged = api_project / "cmd" / "tagged"
    tagged.mkdir()
    (tagged / "main.go").write_text(f"{build_line}\n\npackage main\n\nfunc main() {{}}\n")
    message = one_line_error(hotgo_cli(["run", "./cmd/tagged"], api_project))
    for word in words:
        assert word in message, message


def test_the_tag_the_hint_names_lets_go_list_find_the_package(api_project: Path) -> None:
    tagged = api_project / "cmd" / "tagged"
    tagged.mkdir()
    (tagged / "main.go").write_text("//go:build integration\n\npackage main\n\nfunc main() {}\n")
    # a missing watch path is refused after go list has checked an import path: reaching it means go list
    # found the package
    (api_project / "hotgo.toml").write_text('[watch]\npaths = ["no-such-dir"]\n')
    message = one_line_error(hotgo_cli(["run", "example.com/api/cmd/tagged"], api_project))
    assert "build constraints" in message, message
    message = one_line_error(hotgo_cli(["run", "--build-flags=-tags=integration", "example.com/api/cmd/tagged"],
                                       api_project))
    assert "build constraints" not in message and "no-such-dir" in message, message
