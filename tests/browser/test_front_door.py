"""--front: the front door across reloads (issue 21). Real go builds, real processes, loopback.

A request the old generation received is never sent twice; none fails while generations come and
go, whether they stop before the next one starts (socket mode none, a plain http.ListenAndServe
killed by SIGTERM) or hand a shared socket over (inherit, a service that drains with Shutdown)."""

from __future__ import annotations

import http.client
import re
import shutil
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, Iterator, List, Optional, Tuple

import pytest
from harness import REPO, Hotgo, copy_sample, free_port, kill_processes_under, set_version, wait_for

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="POSIX process handling, loopback")

RELOADS = 3

# A plain net/http service (no hotgo helper) that appends one byte to -count for every POST it answers:
# the file's size is the number of POSTs the generations handled, all together.
COUNTER = '''package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
)

const version = "c1"

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	count := flag.String("count", "", "append one byte per POST handled")
	flag.Parse()
	f, err := os.OpenFile(*count, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			f.Write([]byte{'.'})
		}
		fmt.Fprintf(w, "version=%s pid=%d method=%s body=%d\\n", version, os.Getpid(), r.Method, n)
	})
	log.Fatal(http.ListenAndServe(*addr, nil))
}
'''


@dataclass
class Outcome:
    ok_gets: int = 0
    ok_posts: int = 0
    failures: List[str] = field(default_factory=list)
    versions: List[str] = field(default_factory=list)
    per_version: Dict[str, int] = field(default_factory=dict)  # 200 answers by version


class KeepAliveLoad:
    """`clients` threads, each on one keep-alive connection, alternating GET and POST (or POST only);
    nothing retried: every exception or non-200 answer is a failure. Bounded in time."""

    def __init__(self, port: int, clients: int = 4, posts_only: bool = False, max_seconds: float = 120) -> None:
        self.port, self.posts_only = port, posts_only
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        for thread in self._threads:
            thread.start()

    def _next(self, number: int) -> Tuple[str, str, Optional[bytes]]:
        """The `number`-th request of a client: method, path, body."""
        post = self.posts_only or number % 2 == 1
        return ("POST", "/", b"x" * 100) if post else ("GET", "/", None)

    def _version(self, text: str) -> str:
        """The version an answer came from ("version=v2"); "" when it is not the service's answer."""
        return text.split()[0] if text.startswith("version=") else ""

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        number = 0
        while not self._stop.is_set() and time.monotonic() < self._deadline:
            method, path, body = self._next(number)
            number += 1
            try:
                conn.request(method, path, body=body)
                response = conn.getresponse()
                text = response.read().decode()
            except (OSError, http.client.HTTPException) as err:
                with self._lock:
                    self.outcome.failures.append(f"{method} {path}: {type(err).__name__}: {err}")
                conn.close()
                continue
            version = self._version(text)
            with self._lock:
                if response.status != 200 or not version:
                    self.outcome.failures.append(f"{method} {path}: {response.status} {text[:200]!r}")
                    continue
                if method == "POST":
                    self.outcome.ok_posts += 1
                else:
                    self.outcome.ok_gets += 1
                if version not in self.outcome.versions:
                    self.outcome.versions.append(version)
                self.outcome.per_version[version] = self.outcome.per_version.get(version, 0) + 1
        conn.close()

    def seen(self, version: str, answers: int = 1) -> bool:
        with self._lock:
            return self.outcome.per_version.get(f"version={version}", 0) >= answers

    def stop(self) -> Outcome:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=40)
        return self.outcome


def seen(load: KeepAliveLoad, version: str, answers: int = 1) -> Callable[[], bool]:
    return lambda: load.seen(version, answers)


def reload_under_load(hotgo: Hotgo, project: Path, main: str, versions: List[str], front: int,
                      posts_only: bool = False) -> Outcome:
    load = KeepAliveLoad(front, posts_only=posts_only)
    try:
        wait_for(lambda: load.seen(versions[0]), 30, f"answers from {versions[0]} through the front door")
        for number, version in enumerate(versions[1:], start=2):
            set_version(project, version, main)
            hotgo.wait_serving(number, timeout=120)
            # Some requests on the new generation before the next reload.
            wait_for(seen(load, version, 200), 30, f"answers from {version} through the front door")
    finally:
        outcome = load.stop()
    return outcome


@pytest.fixture
def work(tmp_path: Path, go_toolchain: str) -> Iterator[Path]:
    yield tmp_path
    kill_processes_under(tmp_path)


def test_a_post_the_old_generation_received_is_never_sent_twice(work: Path) -> None:
    """Mode none, a plain service: every POST a client saw succeed was handled once, and none failed."""
    project = work / "counter"
    project.mkdir()
    (project / "go.mod").write_text("module example.com/counter\n\ngo 1.22\n")
    (project / "main.go").write_text(COUNTER)
    counted = work / "handled"
    port, front = free_port(), free_port()
    with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--socket", "none", "--front", f"127.0.0.1:{front}",
                "--", "-addr", f"127.0.0.1:{port}", "-count", str(counted)], cwd=project) as hotgo:
        hotgo.wait_serving(1, timeout=300)
        outcome = reload_under_load(hotgo, project, "main.go", [f"c{n}" for n in range(1, RELOADS + 2)], front,
                                    posts_only=True)
    handled = counted.stat().st_size
    print(f"POSTs answered 200: {outcome.ok_posts}; handled by the services: {handled}; failures: "
          f"{len(outcome.failures)}; versions seen: {outcome.versions}")
    assert not outcome.failures, outcome.failures[:5]
    assert outcome.ok_posts > 100 and handled == outcome.ok_posts, (handled, outcome.ok_posts)


def test_a_plain_service_in_mode_none_fails_no_request(work: Path) -> None:
    project = copy_sample(work, "plain")
    port, front = free_port(), free_port()
    with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--socket", "none", "--front", f"127.0.0.1:{front}",
                "--", "-addr", f"127.0.0.1:{port}"], cwd=project) as hotgo:
        hotgo.wait_serving(1, timeout=300)
        # samples/plain answers GET / only: GETs here (the POSTs: the counting test above).
        outcome = reload_under_load_gets(hotgo, project, front)
    print(f"GETs answered 200: {outcome.ok_gets}; failures: {len(outcome.failures)}; versions: {outcome.versions}")
    assert not outcome.failures, outcome.failures[:5]
    assert outcome.ok_gets > 100


def reload_under_load_gets(hotgo: Hotgo, project: Path, front: int) -> Outcome:
    load = GetLoad(front)
    try:
        wait_for(lambda: load.seen("v1"), 30, "answers from v1 through the front door")
        for number in range(2, RELOADS + 2):
            set_version(project, f"v{number}", "main.go")
            hotgo.wait_serving(number, timeout=120)
            wait_for(seen(load, f"v{number}", 200), 30, f"answers from v{number} through the front door")
    finally:
        outcome = load.stop()
    return outcome


class GetLoad(KeepAliveLoad):
    """GETs only (samples/plain answers nothing else)."""

    def _next(self, number: int) -> Tuple[str, str, Optional[bytes]]:
        return "GET", "/", None


def test_a_shutdown_service_in_mode_inherit_fails_no_request(work: Path) -> None:
    project = work / "wild"
    shutil.copytree(REPO / "tests" / "fixtures" / "wild", project)
    port, front = free_port(), free_port()
    with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--socket", "inherit", "--front", f"127.0.0.1:{front}",
                "--", "-stop", "shutdown"], cwd=project) as hotgo:
        hotgo.wait_serving(1, timeout=300)
        outcome = reload_under_load(hotgo, project, "main.go", [f"w{n}" for n in range(1, RELOADS + 2)], front)
    print(f"GETs {outcome.ok_gets}, POSTs {outcome.ok_posts} answered 200; failures: {len(outcome.failures)}; "
          f"versions: {outcome.versions}")
    assert not outcome.failures, outcome.failures[:5]
    assert outcome.ok_gets > 100 and outcome.ok_posts > 100
    # New requests went on once hotgo saw the old generation close its listener, not after a guess; the
    # front door closed its idle connections to the old one first, so its Shutdown cut none.
    resumes = hotgo.events("front_resume")
    assert [r["how"] for r in resumes] == ["stopped accepting"] * RELOADS, resumes
    assert all(r["seconds"] < 0.5 for r in resumes), resumes
    for name in ("front_left", "front_late", "front_listener_wait", "cut_connections"):
        assert not hotgo.events(name), hotgo.events(name)


class PageLoad(KeepAliveLoad):
    """Pages through the --browser proxy (GET /page of samples/api), each checked for the reload script."""

    def _next(self, number: int) -> Tuple[str, str, Optional[bytes]]:
        return "GET", "/page", None

    def _version(self, text: str) -> str:
        found = re.search(r'<span id="version">(\w+)</span>', text)
        return f"version={found.group(1)}" if found and "/__hotgo/" in text else ""


def test_browser_pages_go_through_the_front_door_and_are_held_across_a_stop_then_start(work: Path) -> None:
    """--browser with --front: the page proxy's upstream is the front door, so pages are held, not
    refused, in mode none's gap, and still carry the live reload script."""
    project = copy_sample(work)
    port, front, browser = free_port(), free_port(), free_port()
    with Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--socket", "none",
                "--front", f"127.0.0.1:{front}", "--browser", f"127.0.0.1:{browser}"], cwd=project) as hotgo:
        hotgo.wait_serving(1, timeout=300)
        [opened] = hotgo.events("browser")
        assert opened["upstream"] == f"127.0.0.1:{front}"
        load = PageLoad(browser, clients=2)
        try:
            wait_for(lambda: load.seen("v1", 20), 30, "pages from v1 through the browser proxy")
            for number in range(2, 4):
                set_version(project, f"v{number}")
                hotgo.wait_serving(number, timeout=120)
                wait_for(seen(load, f"v{number}", 20), 30, f"pages from v{number}")
        finally:
            outcome = load.stop()
    assert not outcome.failures, outcome.failures[:5]
