"""Small pure parts: globs, temp files, addresses, durations, signals, crash backoff."""

from __future__ import annotations

import functools
import weakref
from pathlib import Path
from typing import List, Tuple

import pytest

from hotgo.deadlines import Timers
from hotgo.errors import UsageError
from hotgo.handoff.readiness import ReadinessWatch, ReadyKind, ReadyPlan
from hotgo.loop.crash_policy import CRASH_WINDOW, CrashPolicy
from hotgo.settings.addresses import parse_listen
from hotgo.settings.schema import DEFAULT_EXCLUDE, DEFAULT_INCLUDE, parse_duration, parse_ready
from hotgo.settings.signal_names import parse_signal
from hotgo.watch.filters import PathFilter, glob_to_regex, is_temp_file


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("**/*.go", "main.go", True),
        ("**/*.go", "cmd/api/main.go", True),
        ("**/*.go", "cmd/api/main.gox", False),
        ("go.mod", "go.mod", True),
        ("go.mod", "sub/go.mod", True),
        ("config/*.json", "config/a.json", True),
        ("config/*.json", "config/x/a.json", False),
        ("config/**", "config/x/a.json", True),
        ("a?c.go", "abc.go", True),
        ("[ab].go", "c.go", False),
    ],
)
def test_glob(pattern: str, path: str, matches: bool) -> None:
    assert bool(glob_to_regex(pattern).match(path)) is matches


@pytest.mark.parametrize(
    "name",
    ["4913", "main.go~", ".main.go.swp", ".main.go.a8Xk2Q", "main.go___jb_tmp___", "_skip.go", "#main.go#",
     ".syncthing.main.go.tmp", "~syncthing~main.go.tmp", ".goutputstream-ABC123"],
)
def test_editor_and_sync_temp_files_are_ignored(name: str) -> None:
    assert is_temp_file(name)


def test_default_filter(tmp_path: Path) -> None:
    rules = PathFilter(tmp_path, DEFAULT_INCLUDE, DEFAULT_EXCLUDE)
    assert rules.relevant(tmp_path / "cmd/api/main.go")
    assert rules.relevant(tmp_path / "go.mod")
    assert not rules.relevant(tmp_path / "cmd/api/main_test.go")
    assert not rules.relevant(tmp_path / "vendor/x/y.go")
    assert not rules.relevant(tmp_path / "pkg/testdata/z.go")
    assert not rules.relevant(tmp_path / "README.md")
    assert rules.skips_dir(tmp_path / "node_modules")
    assert rules.skips_dir(tmp_path / "web/node_modules")
    assert not rules.skips_dir(tmp_path / "cmd")


@pytest.mark.parametrize(
    ("text", "name", "host", "port"),
    [
        (":8080", "8080", "", 8080),
        ("127.0.0.1:8080", "8080", "127.0.0.1", 8080),
        ("[::1]:9000", "9000", "::1", 9000),
        ("api=:8080", "api", "", 8080),
        ("localhost:0", "0", "127.0.0.1", 0),
    ],
)
def test_listen_addresses(text: str, name: str, host: str, port: int) -> None:
    address = parse_listen(text)
    assert (address.name, address.host, address.port) == (name, host, port)


@pytest.mark.parametrize("text", ["8080", ":", ":99999", "::1:80", "1.2.3.4:x", "a:b=:80"])
def test_bad_listen_addresses(text: str) -> None:
    with pytest.raises(UsageError, match="listen address"):
        parse_listen(text)


def test_durations_and_signals() -> None:
    assert parse_duration("250ms") == 0.25
    assert parse_duration("2s") == 2
    assert parse_duration("1.5") == 1.5
    assert parse_duration("1m") == 60
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration("soon")
    assert parse_signal("term") == "SIGTERM"
    assert parse_signal("SIGHUP") == "SIGHUP"
    assert parse_signal("15") == "SIGTERM"
    with pytest.raises(ValueError, match="not a signal name"):
        parse_signal("SIGNOPE")
    assert parse_ready("http:/healthz") == "http:/healthz"
    with pytest.raises(ValueError):
        parse_ready("sometimes")


def test_timers_run_in_deadline_order_and_skip_cancelled() -> None:
    from hotgo.deadlines import Timers

    timers = Timers()
    ran: list[str] = []
    timers.after(0.0, lambda: ran.append("second"))
    timers.after(-1.0, lambda: ran.append("first"))
    timers.after(0.0, lambda: ran.append("cancelled")).cancel()
    later = timers.after(60.0, lambda: ran.append("later"))
    timers.run_due()
    assert ran == ["first", "second"]
    wait = timers.next_wait()
    assert wait is not None and 59 < wait <= 60
    later.cancel()
    assert timers.next_wait() is None


def test_a_cancelled_timer_lets_go_of_what_its_action_holds_and_the_heap_stays_bounded() -> None:
    from hotgo.deadlines import COMPACT_AT, Timers

    class Held:
        pass

    timers = Timers()
    held = Held()
    gone = weakref.ref(held)
    timer = timers.after(15.0, functools.partial(print, held))  # a ready timeout holding its generation
    del held
    assert gone() is not None
    timer.cancel()
    assert gone() is None, "a cancelled timer must not keep what it would have acted on until its deadline"
    # A day of reloads: each arms a 15 s timeout and cancels it at once; the heap does not grow with them.
    for _ in range(10_000):
        timers.after(15.0, lambda: None).cancel()
    assert len(timers) <= 2 * COMPACT_AT
    assert timers.next_wait() is None


def test_embed_patterns(tmp_path: Path) -> None:
    from hotgo.build.go_module import embed_patterns

    (tmp_path / "web").mkdir()
    source = tmp_path / "web" / "assets.go"
    source.write_text('package web\n\nimport "embed"\n\n//go:embed static/*.html all:templates "my file.txt"\n'
                      "var files embed.FS\n")
    patterns = embed_patterns(tmp_path, [source])
    assert "web/static/*.html" in patterns and "web/templates/**" in patterns and "web/my file.txt" in patterns


def test_quick_crashes_back_off_report_a_loop_then_give_up() -> None:
    policy = CrashPolicy()
    verdicts = [policy.crashed(lived=0.1) for _ in range(8)]
    assert [v.delay for v in verdicts] == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]  # capped at 30 s
    assert [v.loop for v in verdicts[:4]] == [False, False, True, True]
    assert [v.give_up for v in verdicts[:6]] == [False] * 4 + [True] * 2
    # A process that lived longer than the window starts a new streak; so does a new build.
    assert policy.crashed(lived=CRASH_WINDOW + 1).streak == 1
    policy.crashed(lived=0.1)
    policy.reset()
    assert policy.crashed(lived=0.1).delay == 0.5


def test_readiness_watch_arms_the_timeout_and_the_heuristic_and_disarms_both() -> None:
    timers = Timers()
    watch = ReadinessWatch(ReadyPlan(ReadyKind.AUTO), timeout=15.0, probe_url=None, after=timers.after)
    seen: List[Tuple[str, object]] = []
    watch.arm(1, pid=0, ready=lambda how, heuristic: seen.append((how, heuristic)),
              probe_answered=lambda how: seen.append(("probe", how)), observed=lambda seen_: None,
              timed_out=lambda: seen.append(("timeout", 1)))
    wait = timers.next_wait()
    assert wait is not None and wait <= 0.5  # the auto heuristic comes first, the 15 s timeout later
    watch.disarm(1)
    assert timers.next_wait() is None  # nothing of generation 1 can fire any more
    watch.heard_ready()  # a service that says READY=1 gets no heuristic from now on
    watch.arm(2, pid=0, ready=lambda how, heuristic: seen.append((how, heuristic)),
              probe_answered=lambda how: None, observed=lambda seen_: None, timed_out=lambda: None)
    wait = timers.next_wait()
    assert wait is not None and wait > 14
    assert "never sent READY=1" in watch.timeout_hint()
    assert seen == []
