"""How editors save (issue 13): the build starts at the closed write, and every save, however many
file events it makes, gives one served generation; only a save that is really broken is reported."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import psutil
from harness import VERSION_LINE, Hotgo, field_of, free_port, get, wait_for

MAIN = Path("cmd") / "api" / "main.go"


def start(project: Path, port: int) -> Hotgo:
    hotgo = Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}"], cwd=project)
    hotgo.wait_serving(timeout=300)
    return hotgo


def with_version(project: Path, version: str) -> str:
    return VERSION_LINE.sub(f'const version = "{version}"', (project / MAIN).read_text())


def write(path: Path, text: str) -> None:
    with path.open("w") as handle:  # open (truncate), write, close: one closed write
        handle.write(text)


def go_builds(hotgo: Hotgo) -> int:
    """`go build` processes hotgo runs right now."""
    count = 0
    for pid in hotgo.service_pids():
        try:
            cmdline = psutil.Process(pid).cmdline()
        except psutil.Error:
            continue
        count += len(cmdline) > 1 and Path(cmdline[0]).name.startswith("go") and cmdline[1] == "build"
    return count


def served_once(hotgo: Hotgo, port: int, version: str) -> None:
    """`version` is served by exactly one new generation and no build failure was shown; a marker
    edit afterwards proves the watcher caught up (whatever that save left would be served by then)."""
    wait_for(lambda: field_of(get(port), "version") == version, 120, f"{version} served")
    write(hotgo.cwd / MAIN, with_version(hotgo.cwd, "marker"))
    wait_for(lambda: field_of(get(port), "version") == "marker", 120, "marker served")
    hotgo.wait_serving(3)
    assert hotgo.count_events("done") == 3, hotgo.transcript()
    assert hotgo.count_events("build_failed") == 0, hotgo.transcript()


def test_vim_style_save_gives_one_generation(api_project: Path) -> None:
    """vim (backupcopy=auto): probe file 4913, rename the file to a backup, write a new one, delete the backup."""
    port = free_port()
    with start(api_project, port) as hotgo:
        main = api_project / MAIN
        text = with_version(api_project, "vim")
        probe = main.parent / "4913"
        write(probe, "")
        probe.unlink()
        backup = main.with_name("main.go~")
        os.rename(main, backup)
        write(main, text)
        backup.unlink()
        served_once(hotgo, port, "vim")
        # No field says the build started at the closed write: the summary line (the `done` message) does.
        summary = [d for d in hotgo.events("done") if re.search(r"settle [\d.]+ms \(write closed: no wait\)",
                                                                d["message"])]
        assert summary, hotgo.transcript()  # the build started at the closed write, not after a settle time


def test_gofmt_on_save_rewrite_gives_one_generation(api_project: Path) -> None:
    """The editor writes unformatted code; gofmt rewrites the file 20 ms later."""
    port = free_port()
    with start(api_project, port) as hotgo:
        formatted = with_version(api_project, "fmt")
        unformatted = formatted.replace("func newApp(", "func   newApp(")
        assert unformatted != formatted
        write(api_project / MAIN, unformatted)
        time.sleep(0.02)  # the editor's formatter runs after the save: this is the event order under test
        write(api_project / MAIN, formatted)
        served_once(hotgo, port, "fmt")


def test_a_failed_build_of_a_half_written_save_is_never_reported(api_project: Path) -> None:
    """A writer closes the file half-written and completes it later within the settle time (2s
    here): the build of the half starts at once and fails, but is held, then dropped, not shown."""
    port = free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--settle", "2s", "--max-wait", "10s"],
               cwd=api_project) as hotgo:
        hotgo.wait_serving(timeout=300)
        text = with_version(api_project, "whole")
        write(api_project / MAIN, text[: len(text) // 2])
        wait_for(lambda: go_builds(hotgo) > 0, 30, "the build of the half-written file to start", step=0.005)
        wait_for(lambda: go_builds(hotgo) == 0, 60, "the build of the half-written file to end")
        assert hotgo.count_events("build_failed") == 0, hotgo.transcript()  # held: the save may not be over
        write(api_project / MAIN, text)
        served_once(hotgo, port, "whole")


def test_a_really_broken_save_is_reported(api_project: Path) -> None:
    port = free_port()
    with start(api_project, port) as hotgo:
        text = with_version(api_project, "broken").replace("func newApp(", "func newApp(((")
        write(api_project / MAIN, text)
        hotgo.wait_event("build_failed", timeout=120)  # its wording: tests/test_run.py
        assert field_of(get(port), "version") == "v1"
        assert hotgo.count_events("build_failed") == 1, hotgo.transcript()
