"""What the OS takes, checked before a value reaches it (issue 23): in process, every OS's limits by fakes."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import List

import pytest

from hotgo import platform
from hotgo.errors import UsageError, described, shown
from hotgo.settings import env_file, limits, preflight, utf8
from hotgo.settings.addresses import parse_listen
from hotgo.settings.push_method import parse_push
from hotgo.settings.schema import SETTINGS, parse_duration, parse_ready
from hotgo.settings.signal_names import parse_signal
from hotgo.watch.filters import glob_to_regex

BY_KEY = {(s.section, s.key): s for s in SETTINGS}


def refusal(call: object, *args: object) -> str:
    """The one-line message `call(*args)` refuses with."""
    assert callable(call)
    with pytest.raises((ValueError, UsageError)) as caught:
        call(*args)
    message = str(caught.value)
    assert message and "\n" not in message, message
    return message


def test_a_long_value_is_shown_cut_with_its_length() -> None:
    assert shown("a\x00b\n") == "'a\\x00b\\n'"
    assert shown("x" * 5000) == f"{'x' * 48!r}… (5,000 characters)"
    assert described(3) == "int 3"
    assert described(["y"] * 2000).endswith("(10,000 characters)")


@pytest.mark.parametrize(("key", "raw", "words"), [
    (("build", "package"), "./cmd/\x00api", ["'./cmd/\\x00api' holds a NUL byte (character 7)", "remove it"]),
    (("build", "flags"), ["-race", "-tags=a\x00b"], ["'-tags=a\\x00b' holds a NUL byte"]),
    (("run", "args"), "-v\x00", ["holds a NUL byte"]),
    (("run", "listen"), ["a\x00=:1"], ["holds a NUL byte"]),
    (("watch", "include"), ["*.go\x00"], ["holds a NUL byte"]),
    (("config", "validate"), ["./check\x00", "{file}"], ["holds a NUL byte"]),
    (("run", "env"), {"TOKEN": "se\x00cret"}, ["the value of 'TOKEN' holds a NUL byte"]),
    (("build", "env"), {"A\x00": "1"}, ["'A\\x00' holds a NUL byte"]),
    (("run", "args"), ["\ud800"], ["U+D800, a lone surrogate"]),
])
def test_no_string_with_a_nul_reaches_a_converter(key: tuple[str, str], raw: object, words: List[str]) -> None:
    message = refusal(BY_KEY[key].parse, raw)
    for word in words:
        assert word in message, message
    assert "cret" not in message  # an environment's values are never shown


def test_an_argument_longer_than_the_os_takes() -> None:
    most = platform.CAPABILITIES.arg_max
    assert BY_KEY[("run", "args")].parse(["x" * most]) == ["x" * most]
    message = refusal(BY_KEY[("run", "args")].parse, ["x" * (most + 1)])
    assert f"is {most + 1:,} {platform.CAPABILITIES.name_unit} long" in message and "(" in message, message
    message = refusal(BY_KEY[("run", "env")].parse, {"KEY": "v" * (most - 3)})
    assert message.startswith("'KEY': NAME=value is") and "shorten the value" in message, message


def test_names_and_paths_by_the_limits_of_each_os(monkeypatch: pytest.MonkeyPatch) -> None:
    assert limits.path("é" * 127) and limits.path("d/" * 2000 + "x")
    assert "a file name holds at most 255 bytes" in refusal(limits.path, "é" * 128)  # 256 bytes of UTF-8
    monkeypatch.setattr(platform, "CAPABILITIES", platform.capabilities_for("linux"))
    assert "a path holds at most 4,095 bytes" in refusal(limits.path, "d/" * 2048)
    monkeypatch.setattr(platform, "CAPABILITIES", platform.capabilities_for("darwin"))
    assert "a path holds at most 1,023 bytes" in refusal(limits.path, "d/" * 512)
    monkeypatch.setattr(platform, "CAPABILITIES", platform.capabilities_for("win32"))
    assert limits.path("é" * 255) and limits.path("d/" * 5000)  # UTF-16 units; long paths
    assert "at most 255 UTF-16 units" in refusal(limits.path, "é" * 256)
    assert "at most 32,766 UTF-16 units" in refusal(BY_KEY[("run", "args")].parse, ["x" * 40_000])


@pytest.mark.parametrize(("name", "words"), [
    ("", ["needs a name"]), ("A=B", ["'A=B' holds '='", "without '='"]), ("=A", ["holds '='"]),
])
def test_environment_names(name: str, words: List[str]) -> None:
    for key in (("build", "env"), ("run", "env")):
        message = refusal(BY_KEY[key].parse, {name: "1"})
        for word in words:
            assert word in message, message
    assert BY_KEY[("run", "env")].parse({"lower.dotted-Name": 1}) == {"lower.dotted-Name": "1"}


@pytest.mark.parametrize(("raw", "words"), [
    ("³", ["'³' is not a whole number written with the digits 0-9"]),
    ("٣", ["digits 0-9"]), ("３", ["digits 0-9"]), ("-1", ["digits 0-9"]), ("", ["digits 0-9"]),
    ("9" * 5000, ["(5,000 characters) is more than 1000"]),
    (0, ["0 is not within 1..1000", "keep = 3"]), (2**63 - 1, ["not within 1..1000"]),
    (True, ["expected a whole number, got bool True"]), (3.0, ["got float 3.0"]),
])
def test_keep_is_bounded_before_it_is_read(raw: object, words: List[str]) -> None:
    message = refusal(BY_KEY[("build", "keep")].parse, raw)
    for word in words:
        assert word in message, message


def test_keep_in_range() -> None:
    keep = BY_KEY[("build", "keep")].parse
    assert keep(" 0003 ") == 3 and keep("1000") == 1000 and keep(1) == 1 and keep("0" * 5000 + "7") == 7


@pytest.mark.parametrize(("call", "text", "words"), [
    (parse_duration, "٣s", ["not a duration"]),
    (parse_duration, "9" * 20_000, ["(20,000 characters) is longer than a week"]),
    (parse_signal, "٣", ["not a signal number"]),
    (parse_signal, "9" * 5000, ["(5,000 characters) is not a signal number"]),
    (parse_ready, "http:/a b", ["printable ASCII without spaces", "%20"]),
    (parse_ready, "http:/é", ["printable ASCII"]),
    (parse_listen, f"{'h' * 300}:1", ["at most 253 characters, 1..63 between dots"]),
    (parse_listen, f"{'h' * 64}.example:1", ["1..63 between dots"]),
    (parse_listen, "a..b:1", ["1..63 between dots"]),
    (parse_listen, ":٣", ["digits 0-9"]),
    (parse_listen, f":{'9' * 5000}", ["(5,000 characters) is not a number 0..65535"]),
    (parse_listen, f"{'n' * 256}=:1", ["1..255 printable ASCII characters"]),
    (parse_listen, "nâme=:1", ["printable ASCII"]),
    (parse_push, "http:POST http://127.0.0.1:99999/-/reload", ["port must be a number 1..65535, or {port}"]),
    (parse_push, "http:POST http://127.0.0.1:abc/-/reload", ["port must be a number 1..65535"]),
    (parse_push, "http:POST http://127.0.0.1:0/-/reload", ["port must be a number 1..65535"]),
    (parse_push, "http:POST http://127.0.0.1:٣/-/reload", ["port must be a number 1..65535"]),
    (parse_push, "http:POST http://[::1/-/reload", ["not a URL (Invalid IPv6 URL)"]),
    (parse_push, "http:POST http://127.0.0.1:{port}/re load", ["printable ASCII without spaces"]),
    (parse_push, "http:POST http://127.0.0.1:{port}/é", ["printable ASCII"]),
    (parse_push, f"http:POST http://{'h' * 300}/", ["at most 253 characters"]),
])
def test_parsers_refuse_in_one_short_line(call: object, text: str, words: List[str]) -> None:
    message = refusal(call, text)
    for word in words:
        assert word in message, message
    assert len(message) < 300, message


@pytest.mark.parametrize("text", ["http:POST http://127.0.0.1:{port}/-/reload", "http:GET http://[::1]:9000/r?x=1",
                                  "http:PUT http://u:p@localhost/-/reload", "http:http://127.0.0.1:/-/reload"])
def test_push_urls_still_accepted(text: str) -> None:
    assert str(parse_push(text)).startswith("http:")


def test_text_files_skip_a_bom_and_name_other_encodings() -> None:
    assert utf8.decode(b"\xef\xbb\xbf[run]\n", "f") == "[run]\n"
    assert "f:1: UTF-16 text" in refusal(utf8.decode, "A=1".encode("utf-16"), "f")
    message = refusal(utf8.decode, "A=1\nB=café\n".encode("latin-1"), "f")
    assert message == ("f:2: not UTF-8 text: byte 0xe9 at column 6, which is 'é' in Latin-1 or Windows-1252; "
                       "save the file as UTF-8"), message


def test_env_file_lines() -> None:
    assert env_file.parse("\ufeffA=1\n", "x.env") == {"A": "1"}
    # Lines end at \n, \r\n or \r only: U+2028 or \x1d is part of a value, not a line break (str.splitlines)
    assert env_file.parse("A=a\u2028b # c\r\nB='x\ny'  # c\rC=\"q\\\"\x1d\"\n", "x.env") == {
        "A": "a\u2028b", "B": "x\ny", "C": 'q"\x1d'}
    assert "x.env:2: B: the value's ' is never closed" in refusal(env_file.parse, "A=1\nB='" + "\x1dq" * 50, "x.env")
    message = refusal(env_file.parse, "A=1\n\nTOKEN='xy\x00zzy'\n", "x.env")
    assert message.startswith("x.env:3: TOKEN: the value holds a NUL byte") and "zzy" not in message, message
    message = refusal(env_file.parse, "BIG=" + "v" * platform.CAPABILITIES.arg_max + "\n", "x.env")
    assert message.startswith("x.env:1: BIG: NAME=value is") and "vvv" not in message, message


def test_env_file_that_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "dir.env").mkdir()
    assert "is a directory" in refusal(env_file.load, tmp_path / "dir.env", "--env-file")
    (tmp_path / "latin.env").write_bytes("A=é\n".encode("latin-1"))
    assert f"{tmp_path / 'latin.env'}:1: not UTF-8 text" in refusal(env_file.load, tmp_path / "latin.env", "x")


def test_validate_command_is_checked_at_start(tmp_path: Path) -> None:
    check = preflight.check_validate_command
    (tmp_path / "dir").mkdir()
    (tmp_path / "plain").write_text("#!/bin/sh\n")
    where = "hotgo.toml:7: [config] validate"
    assert refusal(check, ["./dir", "{file}"], tmp_path, where) == (
        f"{where}: './dir' is a directory, not a program; name the program inside it")
    assert "does not exist (relative to" in refusal(check, ["./nothing", "{file}"], tmp_path, where)
    assert "not a program on PATH" in refusal(check, ["no-such-checker-23", "{file}"], tmp_path, where)
    assert "File name too long" in refusal(check, [f"./{'n' * 300}"], tmp_path, where) or os.name == "nt"
    if platform.CAPABILITIES.exec_bit:
        assert "is not executable; make it so with `chmod +x ./plain`" in refusal(check, ["./plain"], tmp_path, where)
        (tmp_path / "plain").chmod(0o755)
    check(["./plain", "{file}"], tmp_path, where)
    check(["{binary}", "-check-config", "{file}"], tmp_path, where)  # built later: checked when it runs
    check([Path(sys.executable).name, "-c", "pass"], tmp_path, where)
    check([], tmp_path, where)  # auto
    assert stat.S_ISREG((tmp_path / "plain").stat().st_mode)


def test_a_run_of_stars_is_one_wildcard() -> None:
    """`****…x` took minutes to not match one file name (nested `.*`): a run of stars is `**`, and `**/**/` is
    `**/`, which match the same paths."""
    name = "a/b/c/" + "j" * 40 + ".go"
    assert glob_to_regex("*" * 40 + "x").pattern == glob_to_regex("**x").pattern
    assert glob_to_regex("**/" * 5000 + "*.go").pattern == glob_to_regex("**/*.go").pattern
    assert glob_to_regex("a/***/b").pattern == glob_to_regex("a/**/b").pattern
    assert not glob_to_regex("*" * 40 + "x").match(name) and glob_to_regex("**/**/*.go").match(name)
