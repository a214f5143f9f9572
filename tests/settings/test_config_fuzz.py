"""Property: whatever a hotgo.toml or a flag holds, hotgo ends with valid Settings or one line, never an exception.

Random TOML values (strings that look like durations, globs, signals, addresses; huge and
non-finite numbers; lists; tables) for random subsets of every declared key. Bounded in
examples and time so CI stays fast.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from hotgo.errors import UsageError
from hotgo.settings import preflight, toml_file
from hotgo.settings.schema import MAX_DURATION, SETTINGS, Settings, resolve

# Words that reach the interesting branches of the converters more often than random text.
SEEDS = ["", "auto", "none", "inherit", "reuseport", "notify", "http:/healthz", "http:x", "delay:300ms",
         "delay:inf", "0", "0s", "-1s", "1.5s", "250ms", "99999999999999h", "inf", "nan", "1e309", "SIGTERM",
         "term", "99", "signal:SIGHUP", "signal:NOPE", "http:POST http://127.0.0.1:{port}/-/reload", "restart",
         ":8080", "127.0.0.1:0", "[::1]:9000", "api=:8080", "=:1", "host:99999", "[z-a]", "[]", "[!]", "[abc",
         "**/*.go", "vendor/", "a b 'c", "-tags dev", ".", "./cmd/api", "../nowhere", "\x00", "é"]

any_text = st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
texts = st.one_of(st.sampled_from(SEEDS), st.sampled_from(SEEDS), any_text)
scalars = st.one_of(
    texts,
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
)
nested = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.sampled_from(["A", "B_1", "x y", ""]), inner, max_size=3)),
    max_leaves=6,
)
# Mostly what a user would plausibly write for a key (a word, a list of words), sometimes anything.
values = st.one_of(texts, st.lists(texts, max_size=3), scalars, nested)
keys = st.sampled_from([(s.section, s.key) for s in SETTINGS])
documents = st.dictionaries(keys, values, max_size=6)


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


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents)
# the classes issue 12 found by hand, always tried besides the random ones
@example({("run", "ready_timeout"): math.inf})
@example({("run", "drain_timeout"): math.nan})
@example({("run", "ready_timeout"): "99999999999999h"})
@example({("run", "ready_timeout"): 0, ("build", "keep"): 0})
@example({("run", "socket"): "inherit"})
@example({("watch", "include"): ["[z-a]"]})
@example({("watch", "exclude"): "[]", ("config", "files"): ["[!]"]})
@example({("watch", "paths"): ["../nowhere"]})
@example({("run", "listen"): [":8080", ":8080"]})
def test_any_hotgo_toml_gives_settings_or_one_line(document: Dict[Tuple[str, str], Any]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "hotgo.toml"
        path.write_text(toml_document(document), encoding="utf-8")
        try:
            values, locations = toml_file.load(path)
            loaded = resolve(values, locations)
            preflight.check_watch_paths(loaded.watch_paths, Path(scratch), locations.get("watch_paths", "paths"))
        except UsageError as err:
            message = str(err)
            assert "\n" not in message and message.startswith(f"{path}:"), message
            return
    assert isinstance(loaded, Settings)
    for name in ("run_ready_timeout", "run_drain_timeout", "config_ack_timeout"):
        assert 0 < getattr(loaded, name) <= MAX_DURATION, name
    for name in ("watch_settle", "watch_max_wait", "config_min_interval"):
        assert 0 <= getattr(loaded, name) <= MAX_DURATION, name
    assert loaded.build_keep >= 1


flag_settings = [s for s in SETTINGS if s.flag]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(flag_settings), st.lists(texts, min_size=1, max_size=3))
def test_any_flag_value_is_converted_or_refused_in_one_line(setting: Any, words: List[str]) -> None:
    raw: object = words if setting.repeat else words[0]
    try:
        setting.convert(raw)
    except ValueError as err:
        assert "\n" not in str(err) and str(err), repr(err)
