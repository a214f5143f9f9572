"""Property: whatever a hotgo.toml, a flag or an env file holds, hotgo ends with valid Settings or one line.

Never an exception, never a value the OS refuses later (issues 12 and 23). Random values for random
subsets of every declared key, every flag of `hotgo run` (PKG, `--config`, `--log-file` and the
words after `--` included) and env-file lines: strings that look like what each setting takes,
arbitrary unicode (NUL included), and long values, up to about a hundred kilobytes (a short text
repeated, so that generating them costs nothing). Each runs the start path in process (`load_settings`:
flags, hotgo.toml, the env file; then the preflight checks), not a hotgo per example. Bounded in
examples and time so CI stays fast.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
import urllib.parse
from datetime import timedelta
from pathlib import Path
from typing import Any, Dict, List, Tuple

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from hotgo import cli, platform, run_plan
from hotgo.errors import UsageError
from hotgo.settings import env_file, preflight
from hotgo.settings.push_method import PushKind, parse_push
from hotgo.settings.schema import MAX_DURATION, SETTINGS, Settings

# A few milliseconds each, seconds in all (about 10 s for the three on one core); an example that takes 5 s
# (a regex gone quadratic, a hang) fails. Long values are large draws: that is the point, not a health problem.
PER_EXAMPLE = timedelta(seconds=5)
SLOW_DATA = [HealthCheck.too_slow, HealthCheck.data_too_large]

# Words that reach the interesting branches of the converters more often than random text.
SEEDS = ["", "auto", "none", "inherit", "reuseport", "notify", "http:/healthz", "http:x", "delay:300ms",
         "delay:inf", "0", "0s", "-1s", "1.5s", "250ms", "99999999999999h", "inf", "nan", "1e309", "SIGTERM",
         "term", "99", "signal:SIGHUP", "signal:NOPE", "http:POST http://127.0.0.1:{port}/-/reload", "restart",
         ":8080", "127.0.0.1:0", "[::1]:9000", "api=:8080", "=:1", "host:99999", "[z-a]", "[]", "[!]", "[abc",
         "**/*.go", "vendor/", "a b 'c", "-tags dev", ".", "./cmd/api", "../nowhere", "\x00", "é",
         # issue 23: what reached the OS unchecked, or was accepted and useless
         "a\x00b", "-tags=a\x00b", "³", "٣", "３", "A=B", "http:POST http://127.0.0.1:99999/-/reload",
         "http:POST http://127.0.0.1:abc/x", "http:POST http://[::1/x", "http:GET http://h/a b", "http:/é",
         "./dir", "./plain {file}", "{binary} -check-config {file}", "dev.env", "-x", "./...", "\ufeff",
         "a\u2028b", "\x85", "'\x1d"]
# What repeats into a long value: a letter, a path element, a NUL, a character of 2..4 bytes.
UNITS = ["a", "a/", "9", "\x00", "é", "€", "😀", "h.", "-", "\x1dq", "' "]

characters = st.characters(blacklist_categories=["Cs"])  # TOML and UTF-8 files cannot hold lone surrogates
any_text = st.text(characters, max_size=12)
long_text = st.builds(lambda head, unit, times: head + unit * times,
                      st.sampled_from(SEEDS), st.one_of(st.sampled_from(UNITS), st.text(characters, min_size=1,
                                                                                          max_size=3)),
                      st.integers(min_value=200, max_value=30_000))
texts = st.one_of(st.sampled_from(SEEDS), st.sampled_from(SEEDS), any_text, long_text)
scalars = st.one_of(
    texts,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
names = st.one_of(st.sampled_from(["A", "B_1", "x y", "", "A=B", "=", "\x00", "PATH"]), any_text, long_text)
nested = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(names, inner, max_size=3)),
    max_leaves=6,
)
# Mostly what a user would plausibly write for a key (a word, a list of words), sometimes anything.
values = st.one_of(texts, st.lists(texts, max_size=3), scalars, nested)
keys = st.sampled_from([(s.section, s.key) for s in SETTINGS])
documents = st.dictionaries(keys, values, max_size=6)

# An env file: lines of NAME=value (quoted or not, `export`ed or not), comments and junk, in UTF-8 with or
# without a BOM, or in another encoding.
env_names = st.one_of(st.sampled_from(["A", "B_1", "x.y", "1A", "A B", ""]), any_text)
env_lines = st.one_of(
    st.builds(lambda export, name, quote, value: f"{export}{name}={quote}{value}{quote}",
              st.sampled_from(["", "export "]), env_names, st.sampled_from(["", "'", '"']), texts),
    st.sampled_from(["# comment", "", "   ", "A", "=1", "A='open", 'B="a\\"b"', "C=1 # trailing"]),
    any_text,
)
env_encodings = st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"])
env_files = st.builds(lambda lines, encoding: "\n".join(lines).encode(encoding, errors="replace"),
                      st.lists(env_lines, max_size=5), env_encodings)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: the same escapes
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def toml_document(document: Dict[Tuple[str, str], Any]) -> str:
    lines: List[str] = []
    for section in dict.fromkeys(section for section, _ in document):
        lines.append(f"[{section}]")
        lines += [f"{key} = {toml_value(value)}" for (where, key), value in document.items() if where == section]
    return "\n".join(lines) + "\n"


def one_clear_line(message: str, starts: str = "") -> None:
    """A message a user reads: one line (no line break of any kind), short, naming where."""
    assert message and len(message.splitlines()) == 1 and message.strip() == message, repr(message)
    assert message.startswith(starts), message
    assert len(message) <= 600 + len(starts), f"{len(message)} characters: {message[:300]!r}"


def reaches_the_os(loaded: Settings, root: Path) -> None:
    """Nothing in valid Settings can be refused by the OS or by the thread that uses it later."""
    arguments = [loaded.build_package, *loaded.build_flags, *loaded.run_args, *loaded.config_validate]
    for text in arguments:
        assert "\x00" not in text and len(os.fsencode(text)) <= platform.CAPABILITIES.arg_max, text[:80]
    for env in (loaded.build_env, loaded.run_env):
        for name, value in env.items():
            assert name and "=" not in name and "\x00" not in name + value, name[:80]
            assert len(os.fsencode(f"{name}={value}")) <= platform.CAPABILITIES.arg_max, name[:80]
    for path in [loaded.run_binary, loaded.run_env_file, *loaded.watch_paths]:
        if len(os.fsencode(str(root / path))) > platform.CAPABILITIES.path_max:
            continue  # within the limit as given; with the scratch directory before it, not (hotgo says so then)
        try:
            os.lstat(root / path)  # a NUL byte or a name too long would raise here (ValueError, ENAMETOOLONG)
        except (FileNotFoundError, NotADirectoryError):
            pass
    for address in loaded.run_listen:
        assert address.name and ":" not in address.name and address.name.isascii(), address
    if loaded.run_ready.startswith("http:"):
        loaded.run_ready[5:].encode("ascii")  # the probe's request line
    method = parse_push(loaded.config_push)
    if method.kind is PushKind.HTTP:  # what the push thread does with the URL, minus the connection
        parts = urllib.parse.urlsplit(method.url.replace("{port}", "8080"))
        assert parts.port is None or 0 < parts.port <= 65535
        (parts.path + parts.query).encode("ascii")
        assert parts.hostname is not None
        parts.hostname.encode("idna")


def start(argv: List[str], root: Path) -> Settings:
    """What `hotgo run ARGV` does with its settings before anything starts, in process."""
    args, app_args = argv, []
    if "--" in argv:
        split = argv.index("--")
        args, app_args = argv[:split], argv[split + 1:]
    namespace, unknown = cli.build_parser().parse_known_args(["run", *args])
    if unknown:
        raise UsageError(f"unrecognized arguments: {len(unknown)}")
    set_at: Dict[str, str] = {}
    loaded = run_plan.load_settings(namespace, app_args, root, set_at)
    preflight.check_watch_paths(loaded.watch_paths, root, set_at.get("watch_paths", "[watch] paths"))
    preflight.check_validate_command(loaded.config_validate, root, set_at.get("config_validate", "[config] validate"))
    return loaded


def scratch_project(scratch: Path) -> None:
    """What the seeds name: a directory, a file without the x bit."""
    (scratch / "dir").mkdir()
    (scratch / "plain").write_text("#!/bin/sh\n")


@settings(max_examples=300, deadline=PER_EXAMPLE, suppress_health_check=SLOW_DATA)
@given(documents, env_files)
# the classes issues 12 and 23 found by hand, always tried besides the random ones
@example({("run", "ready_timeout"): math.inf}, b"")
@example({("run", "drain_timeout"): math.nan}, b"")
@example({("run", "ready_timeout"): "99999999999999h"}, b"")
@example({("run", "ready_timeout"): 0, ("build", "keep"): 0}, b"")
@example({("run", "socket"): "inherit"}, b"")
@example({("watch", "include"): ["[z-a]"]}, b"")
@example({("watch", "exclude"): "[]", ("config", "files"): ["[!]"]}, b"")
@example({("watch", "paths"): ["../nowhere"]}, b"")
@example({("run", "listen"): [":8080", ":8080"]}, b"")
@example({("build", "package"): "./cmd/\x00api", ("build", "env"): {"A": "a\x00b"}}, b"")
@example({("build", "flags"): ["-tags=a\x00b"], ("run", "binary"): "a\x00b"}, b"")
@example({("run", "env_file"): "a\x00b", ("run", "args"): ["a\x00b"], ("run", "env"): {"A": "\x00"}}, b"")
@example({("run", "listen"): ["a\x00b=127.0.0.1:0"]}, b"")
@example({("run", "env_file"): "dev.env"}, b"A=a\x00b\n")
@example({("run", "env_file"): "dev.env"}, "\ufeffA=1\n".encode())
@example({("run", "env_file"): "dev.env"}, "A=café\n".encode("latin-1"))
@example({("build", "package"): "./" + "a" * 5000, ("run", "binary"): "a" * 5000}, b"")
@example({("build", "env"): {"A=B": "c"}}, b"")
@example({("build", "keep"): "9" * 5000}, b"")
@example({("build", "keep"): "³"}, b"")
@example({("run", "listen"): ["h" * 300 + ":8080"]}, b"")
@example({("config", "push"): "http:POST http://127.0.0.1:99999/-/reload"}, b"")
@example({("config", "push"): "http:POST http://127.0.0.1:abc/-/reload"}, b"")
@example({("config", "validate"): "./dir {file}"}, b"")
@example({("config", "validate"): "./plain {file}"}, b"")
@example({("build", "flags"): ["a\u2028b"], ("build", "keep"): "x"}, b"")  # a line break only to str.splitlines
@example({("run", "env_file"): "dev.env"}, b"A='" + b"\x1dq" * 30_000)  # was quadratic: 15 s
@example({("run", "env_file"): "dev.env"}, b"A=x" + b" " * 40_000 + b"x")  # was quadratic: 6 s
def test_any_hotgo_toml_gives_settings_or_one_line(document: Dict[Tuple[str, str], Any], env: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        scratch_project(scratch)
        path = scratch / "hotgo.toml"
        text = toml_document(document)
        path.write_text(text, encoding="utf-8")
        (scratch / "dev.env").write_bytes(env)
        try:
            loaded = start([], scratch)
        except UsageError as err:
            message = str(err)
            one_clear_line(message, str(scratch))
            assert message.startswith((f"{path}:", f"{scratch / 'dev.env'}:")), message
            named = re.match(rf"{re.escape(str(path))}:(\d+): \[\w+\] (\w+): ", message)
            if named:  # the line named is the key's (each key is on a line of its own)
                number, key = int(named.group(1)), named.group(2)
                assert text.split("\n")[number - 1].startswith(f"{key} = "), message
            event("refused in one line")
            return
        reaches_the_os(loaded, scratch)
        event("valid settings")
    assert isinstance(loaded, Settings)
    for name in ("run_ready_timeout", "run_drain_timeout", "config_ack_timeout"):
        assert 0 < getattr(loaded, name) <= MAX_DURATION, name
    for name in ("watch_settle", "watch_max_wait", "config_min_interval"):
        assert 0 <= getattr(loaded, name) <= MAX_DURATION, name
    assert 1 <= loaded.build_keep <= 1000


# Every flag of `hotgo run` that takes a value, and the ones apart from the settings.
VALUE_FLAGS = [s.flag for s in SETTINGS if s.flag and not s.is_switch] + ["--config", "--log-file"]
flag_words = st.lists(st.tuples(st.sampled_from(VALUE_FLAGS), texts), max_size=3).map(
    lambda pairs: [f"{flag}={value}" for flag, value in pairs])
packages = st.one_of(st.just([]), texts.map(lambda text: [text]))
after_dashes = st.one_of(st.just([]), st.lists(texts, min_size=1, max_size=3).map(lambda words: ["--", *words]))


@settings(max_examples=300, deadline=PER_EXAMPLE, suppress_health_check=SLOW_DATA)
@given(packages, flag_words, after_dashes)
@example([f"./cmd/{'a' * 5000}"], [], [])
@example([], ["--listen=" + "h" * 300 + ":1"], [])
@example([], ["--config=" + "a" * 5000, "--log-file=a\x00b"], [])
@example([], ["--binary=a\x00b"], ["--", "a\x00b"])
@example(["a\x00b"], [], [])
def test_any_flag_value_is_converted_or_refused_in_one_line(package: List[str], flags: List[str],
                                                             rest: List[str]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        scratch = Path(directory)
        scratch_project(scratch)
        try:
            loaded = start([*package, *flags, *rest], scratch)
        except UsageError as err:
            one_clear_line(str(err))
            event("refused in one line")
            return
        reaches_the_os(loaded, scratch)
        event("valid settings")


@settings(max_examples=200, deadline=PER_EXAMPLE, suppress_health_check=SLOW_DATA)
@given(env_files)
@example(b"A=a\x00b\n")
@example(b"\xef\xbb\xbfA=1\n")
@example("A=café\n".encode("latin-1"))
@example("A=1\n".encode("utf-16"))
@example(b"A=" + b"v" * 140_000)
@example(b"A='" + b"\x1dq" * 30_000)
@example(b"A=\"" + b" " * 40_000 + b"x")
def test_any_env_file_gives_variables_or_one_line(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "dev.env"
        path.write_bytes(content)
        try:
            env = env_file.load(path, "hotgo.toml:3: [run] env_file")
        except UsageError as err:
            one_clear_line(str(err))
            assert str(err).startswith((f"{path}:", "hotgo.toml:3:")), err
            event("refused in one line")
            return
    event("variables")
    for name, value in env.items():
        assert name and "=" not in name and "\x00" not in name + value and "\ufeff" not in name
        assert len(os.fsencode(f"{name}={value}")) <= platform.CAPABILITIES.arg_max
