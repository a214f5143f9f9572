"""Watch rules (issue 3): big trees, excluded dirs, queue overflow, deleted dirs, local modules, handler errors."""

from __future__ import annotations

import io
import os
import shutil
import signal
import sys
import threading
from pathlib import Path
from typing import Iterator, List

import psutil
import pytest
from harness import (
    Hotgo,
    field_of,
    free_port,
    get,
    kill_processes_under,
    make_tree,
    parse_records,
    set_version,
    wait_for,
)

from hotgo.build.go_module import local_module_dirs
from hotgo.log import Log
from hotgo.settings.schema import DEFAULT_EXCLUDE, DEFAULT_INCLUDE
from hotgo.watch.change_set import ChangeSet
from hotgo.watch.filters import PathFilter
from hotgo.watch.observers import inotify_watch_count
from hotgo.watch.watcher import Watcher

linux_only = pytest.mark.skipif(inotify_watch_count() is None, reason="counts inotify watches via /proc (Linux)")
EXCLUDED_NAMES = {p.rstrip("/") for p in DEFAULT_EXCLUDE if p.endswith("/")}


def watched_directories(root: Path) -> int:
    """Directories hotgo should hold an inotify watch for: all but excluded ones and what is below them."""
    count = 0
    for _, dirnames, _ in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in EXCLUDED_NAMES]
        count += 1
    return count


def assert_watches_are_directories(hotgo: Hotgo, project: Path) -> None:
    """One inotify watch per watched directory, none for excluded ones (at any depth)."""
    watching = hotgo.events("watching")
    assert watching, hotgo.transcript()
    directories = watching[0]["directories"]
    module = watched_directories(project)
    local = sum(watched_directories(d) for d in local_module_dirs(project))  # replace targets, once cli adds them
    assert directories in (module, module + local), (directories, module, local)
    assert watching[0]["inotify_watches"] == directories, watching[0]
    assert inotify_watch_count(hotgo.proc.pid) == directories


def builds(hotgo: Hotgo) -> int:
    return hotgo.count_events("build")


def marker_change(project: Path, hotgo: Hotgo, serving_before: int) -> None:
    """A known change after the one under test: its build proves the watcher caught up."""
    set_version(project, f"marker{serving_before}")
    hotgo.wait_serving(serving_before + 1)


def start(project: Path, port: int, package: str = "./cmd/api", *extra: str, log_format: str = "json") -> Hotgo:
    return Hotgo(["run", package, "--listen", f"127.0.0.1:{port}", *extra], cwd=project, log_format=log_format)


# -- 1. big tree, node_modules ----------------------------------------------------------------

@linux_only
def test_big_tree_is_watched_and_node_modules_cost_no_watches(api_project: Path) -> None:
    make_tree(api_project / "assets", 10_000, 10)  # next to the Go code: 10,000 dirs, ~100,000 files
    make_tree(api_project / "node_modules", 20_000, 0)  # top level
    make_tree(api_project / "web" / "node_modules", 2_000, 0)  # nested: the watch plan splits web/
    assert 10_000 <= watched_directories(api_project) < 10_100
    port = free_port()
    hotgo = start(api_project, port)
    try:
        hotgo.wait_serving()
        assert_watches_are_directories(hotgo, api_project)
        watches = inotify_watch_count(hotgo.proc.pid)

        # node_modules replaced while hotgo runs: still no watch for it
        shutil.rmtree(api_project / "node_modules")
        make_tree(api_project / "node_modules", 20_000, 0)
        set_version(api_project, "v2")  # and a save of a .go file is seen
        hotgo.wait_serving(2)
        wait_for(lambda: field_of(get(port), "version") == "v2", 30, "v2 served")
        assert inotify_watch_count(hotgo.proc.pid) == watches
        assert builds(hotgo) == 2, hotgo.transcript()
    finally:
        hotgo.close()


# -- 2. inotify queue overflow → rescan ----------------------------------------------------------

QUEUE_LIMIT = Path("/proc/sys/fs/inotify/max_queued_events")


@pytest.fixture
def small_inotify_queue() -> Iterator[List[str]]:
    """Lower max_queued_events (read by the kernel when an inotify instance is created);
    the test restores it as soon as hotgo has its instance, this fixture in any case."""
    if not QUEUE_LIMIT.exists() or not os.access(QUEUE_LIMIT, os.W_OK):
        pytest.skip(f"{QUEUE_LIMIT} is not writable (needs root on Linux)")
    original = QUEUE_LIMIT.read_text().strip()
    try:
        QUEUE_LIMIT.write_text("16\n")
    except OSError as err:
        pytest.skip(f"cannot write {QUEUE_LIMIT}: {err}")
    try:
        yield [original]
    finally:
        QUEUE_LIMIT.write_text(original + "\n")


def test_inotify_queue_overflow_rescans_and_rebuilds_once(api_project: Path, small_inotify_queue: List[str]) -> None:
    if sys.platform == "win32":  # what follows is POSIX (mypy --platform win32 skips it)
        pytest.skip("SIGSTOP and SIGCONT are POSIX")
    port = free_port()
    hotgo = start(api_project, port)
    try:
        hotgo.wait_event("watching")
        QUEUE_LIMIT.write_text(small_inotify_queue[0] + "\n")  # hotgo's instance keeps the small queue
        hotgo.wait_serving()
        # Freeze hotgo so nothing reads the queue: 200 files overflow it, the edit's events are lost.
        hotgo.proc.send_signal(signal.SIGSTOP)
        try:
            for i in range(200):  # in a watched directory (a new one would have no watch yet)
                (api_project / "cmd" / "api" / f"junk{i}.txt").write_text("x")
            set_version(api_project, "lost")
            (api_project / "cmd" / "api" / "arrived").mkdir()  # its creation event is lost too
        finally:
            hotgo.proc.send_signal(signal.SIGCONT)
        hotgo.wait_event("watch_overflow")
        hotgo.wait_serving(2)
        assert field_of(get(port), "version") == "lost"
        marker_change(api_project, hotgo, 2)
        assert builds(hotgo) == 3, hotgo.transcript()
        # The directory born during the overflow is watched after the re-plan.
        (api_project / "cmd" / "api" / "arrived" / "arrived.go").write_text("package arrived\n")
        hotgo.wait_event("build", occurrences=4)
    finally:
        hotgo.close()


# -- 3. deleted and recreated directories ------------------------------------------------------------

@pytest.mark.parametrize("split", [False, True], ids=["recursive", "split-by-nested-node_modules"])
def test_deleted_and_recreated_directory_keeps_being_watched(api_project: Path, split: bool) -> None:
    if split:  # internal/ is then watched alone and internal/config gets its own recursive watch
        make_tree(api_project / "internal" / "web" / "node_modules", 100, 0)
    config_dir = api_project / "internal" / "config"
    config_go = config_dir / "config.go"
    original = config_go.read_text()
    port = free_port()
    # rmtree + mkdir + write is one burst only if the machine keeps up: give it a settle
    # a loaded CI machine cannot miss (the watching, not the timing, is under test).
    hotgo = start(api_project, port, "./cmd/api", "--settle", "400ms")
    try:
        hotgo.wait_serving()
        if inotify_watch_count() is not None:  # the nested node_modules costs no watch
            assert_watches_are_directories(hotgo, api_project)
        serving = 1
        helper = api_project / "internal" / "hotgo"  # the Go helper, written by `hotgo helper`
        helper_copy = api_project.parent / "helper-copy"
        shutil.copytree(helper, helper_copy)
        for deleted in (config_dir, api_project / "internal"):  # a subdirectory, then a top-level one
            shutil.rmtree(deleted)
            config_dir.mkdir(parents=True)
            if not helper.exists():  # internal/ went with it: back in the same burst
                shutil.copytree(helper_copy, helper)
            config_go.write_text(original + f"\n// recreated after deleting {deleted.name}\n")
            serving += 1
            hotgo.wait_serving(serving)
            config_go.write_text(original + f"\n// edited in the recreated {deleted.name}\n")
            serving += 1
            hotgo.wait_serving(serving)  # the recreated directory is watched
        marker_change(api_project, hotgo, serving)
        assert builds(hotgo) == serving + 1, hotgo.transcript()
        assert hotgo.count_events("build_failed") == 0, hotgo.transcript()
    finally:
        hotgo.close()


# -- 4. local replace / go.work use directories ------------------------------------------------------

def test_local_module_dirs_from_go_mod_and_go_work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOWORK", raising=False)
    for name in ("app", "lib", "b", "c", "w1", "w2", "app/inner"):
        (tmp_path / name).mkdir(parents=True, exist_ok=True)
    (tmp_path / "app" / "go.mod").write_text(
        "module example.com/app\n\ngo 1.22\n\n"
        "replace example.com/lib => ../lib // comment\n"
        "replace example.com/remote => example.com/fork v1.0.0\n"
        "replace example.com/inner => ./inner\n"
        "replace (\n"
        "\texample.com/b v1.2.3 => \"../b\"\n"
        "\t// example.com/x => ../x\n"
        f"\texample.com/c => {tmp_path / 'c'}\n"
        "\texample.com/missing => ../missing\n"
        ")\n"
    )
    assert local_module_dirs(tmp_path / "app") == [tmp_path / "b", tmp_path / "c", tmp_path / "lib"]
    (tmp_path / "go.work").write_text("go 1.22\n\nuse ./app\nuse (\n\t./w1\n\tw2 // comment\n)\n")
    assert local_module_dirs(tmp_path / "app") == [tmp_path / n for n in ("b", "c", "lib", "w1", "w2")]
    monkeypatch.setenv("GOWORK", "off")
    assert local_module_dirs(tmp_path / "app") == [tmp_path / "b", tmp_path / "c", tmp_path / "lib"]


LIB_SERVICE = '''package main

import (
	"fmt"
	"net"
	"net/http"
	"os"

	"example.com/lib"
)

func main() {
	ln, err := net.FileListener(os.NewFile(3, "listener"))
	if err != nil {
		panic(err)
	}
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "version=%s pid=%d\\n", lib.Version, os.Getpid())
	}))
	if c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET")); err == nil {
		c.Write([]byte("READY=1"))
		c.Close()
	}
	select {}
}
'''


@pytest.mark.go
def test_edit_in_local_replace_target_rebuilds_and_hands_off(tmp_path: Path) -> None:
    app, lib = tmp_path / "app", tmp_path / "lib"
    app.mkdir()
    lib.mkdir()
    (lib / "go.mod").write_text("module example.com/lib\n\ngo 1.22\n")
    (lib / "lib.go").write_text('package lib\n\nconst Version = "lib1"\n')
    (app / "go.mod").write_text("module example.com/app\n\ngo 1.22\n\nrequire example.com/lib v0.0.0\n\n"
                                "replace example.com/lib => ../lib\n")
    (app / "main.go").write_text(LIB_SERVICE)
    port = free_port()
    hotgo = Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}"], cwd=app, env={"GOWORK": "off"})
    try:
        hotgo.wait_serving()
        old_pid = int(field_of(get(port), "pid") or 0)
        assert field_of(get(port), "version") == "lib1"
        (lib / "lib.go").write_text('package lib\n\nconst Version = "lib2"\n')
        wait_for(lambda: field_of(get(port), "version") == "lib2", 60, "lib2 served")
        wait_for(lambda: not psutil.pid_exists(old_pid), 15, f"old pid {old_pid} to exit")
        done = hotgo.wait_event("done", generation=2)
        assert hotgo.events("drain", generation=1) and "connections_open" in done, hotgo.transcript()  # drained
    finally:
        hotgo.close()
        kill_processes_under(tmp_path)


# -- 5. a handler error does not kill the observer ---------------------------------------------------

def test_handler_error_is_logged_and_later_events_still_arrive(tmp_path: Path) -> None:
    (tmp_path / "go.mod").write_text("module example.com/x\n")
    (tmp_path / "pkg").mkdir()
    out = io.StringIO()
    changes: List[ChangeSet] = []
    lock = threading.Lock()

    def on_change(change: ChangeSet) -> None:
        with lock:
            changes.append(change)

    watcher = Watcher([PathFilter(tmp_path, DEFAULT_INCLUDE, DEFAULT_EXCLUDE)], 0.05, 2.0, False, on_change,
                      Log(out, json_format=True))
    real_record = watcher.record

    def faulty_record(event: object) -> None:
        if "boom" in str(getattr(event, "src_path", "")):
            raise RuntimeError("injected failure")
        real_record(event)  # type: ignore[arg-type]

    watcher.record = faulty_record  # type: ignore[method-assign]
    watcher.start()
    try:
        (tmp_path / "pkg" / "boom.go").write_text("package pkg\n")
        wait_for(lambda: [r for r in parse_records(out.getvalue()) if r["event"] == "watch_error"], 10,
                 "the handler error to be logged")
        assert "injected failure" in out.getvalue()
        (tmp_path / "pkg" / "ok.go").write_text("package pkg\n")
        wait_for(lambda: any(tmp_path / "pkg" / "ok.go" in c.paths for c in list(changes)), 10,
                 "a later event to arrive")
    finally:
        watcher.stop()


WATCH_LIMIT = Path("/proc/sys/fs/inotify/max_user_watches")


@linux_only
def test_inotify_watch_limit_is_reported_and_polling_takes_over(api_project: Path) -> None:
    """Wording is the point of the first check: the fallback line names the sysctl that fixes it."""
    if not os.access(WATCH_LIMIT, os.W_OK):
        pytest.skip(f"{WATCH_LIMIT} is not writable (needs root on Linux)")
    make_tree(api_project / "assets", 300, 0)
    original = WATCH_LIMIT.read_text().strip()
    port = free_port()
    WATCH_LIMIT.write_text("64\n")  # fewer watches than the tree has directories
    try:
        hotgo = start(api_project, port, log_format="text")
        try:
            hotgo.wait_line(r"the inotify limit is reached .*sysctl fs\.inotify\.max_user_watches=.*"
                            r"Falling back to polling")
        finally:
            WATCH_LIMIT.write_text(original + "\n")
        with hotgo:
            hotgo.wait_serving()
            set_version(api_project, "polled")
            wait_for(lambda: field_of(get(port), "version") == "polled", 60, "the edit seen by polling")
    finally:
        WATCH_LIMIT.write_text(original + "\n")
