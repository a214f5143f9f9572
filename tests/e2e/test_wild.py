"""Services hotgo did not write (issue 10): they never send READY=1, stop with Shutdown(ctx) or
os.Exit, bind their own port, log every request. tests/fixtures/wild behaves like them."""

from __future__ import annotations

import http.client
import json
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, Iterator, List

import psutil
import pytest
from harness import (
    REPO,
    Every,
    Hotgo,
    Load,
    copy_sample,
    event_time,
    field_of,
    free_port,
    get,
    kill_processes_under,
    kill_tree,
    set_version,
    wait_for,
)

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="observed through Linux /proc")
pytestmark = linux_only

CLIENTS = 8


@pytest.fixture
def wild(tmp_path: Path, go_toolchain: str) -> Iterator[Path]:
    project = tmp_path / "wild"
    shutil.copytree(REPO / "tests" / "fixtures" / "wild", project)
    yield project
    kill_processes_under(tmp_path)


def start(project: Path, port: int, *app_args: str) -> Hotgo:
    return Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--log-format", "json", "--", *app_args], cwd=project)


def established(pid: int, port: int) -> int:
    try:
        connections = psutil.Process(pid).net_connections(kind="tcp")
    except psutil.Error:
        return 0
    return sum(1 for c in connections if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)


class FreshProbes(Every):
    """A new connection every 10 ms (Connection: close), bounded in time and count: what fails?"""

    def __init__(self, port: int) -> None:
        super().__init__(0.01, self.probe, max_seconds=180, max_calls=18_000)
        self.port = port
        self.failures: List[str] = []

    def probe(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            response = conn.getresponse()
            response.read()
            if response.status != 200:
                self.failures.append(f"status {response.status}")
        except (OSError, http.client.HTTPException) as err:
            self.failures.append(f"{type(err).__name__}: {err}")
        finally:
            conn.close()


def test_takes_the_socket_never_notifies_ready_is_observed_and_no_fresh_connection_fails(wild: Path) -> None:
    port = free_port()
    with start(wild, port) as hotgo:
        hotgo.wait_event("done", 90)
        with FreshProbes(port) as probes:
            for i in range(2, 12):
                set_version(wild, f"w{i}", main="main.go")
                hotgo.wait_event("done", 90, i)
                wait_for(lambda v=f"w{i}": field_of(get(port), "version") == v, 10, f"w{i} answering")
        hotgo.wait_event("ready", 90, 11)
        ready = hotgo.events("ready")
    assert all("accepting on the shared socket" in r["how"] for r in ready), [r["how"] for r in ready]
    assert not any("heuristic" in r["how"] for r in ready)
    median = statistics.median(r["seconds"] for r in ready)
    assert median < 0.1, [r["seconds"] for r in ready]
    # Not one refused connection. At most one probe may be dropped by the old process itself: a
    # connection its accept loop took just as Shutdown(ctx) began can be closed unanswered (seen
    # about once in 400-900 probes, only with this Shutdown fixture; a service's own race).
    assert probes.calls > 100, probes.calls
    assert not [f for f in probes.failures if "Refused" in f], probes.failures[:5]
    assert len(probes.failures) <= 1, (probes.calls, probes.failures[:5])


@pytest.mark.parametrize("stop, cut", [("shutdown", CLIENTS), ("exit", CLIENTS), ("announce-shutdown", CLIENTS),
                                       ("helper", 0)])
def test_drain_report_counts_what_the_clients_saw(tmp_path: Path, wild: Path, stop: str, cut: int) -> None:
    """`cut` is what keep-alive clients that never retry (harness.Load) saw fail, and "closed in order" cost
    none of them a request (issue 21). announce-shutdown drains as Caddy does: STOPPING=1, then Shutdown(ctx),
    which closes idle keep-alive connections under their clients; it used to be reported in order."""
    port = free_port()
    if stop == "helper":  # samples/api drains with hotgo's Go helper: STOPPING=1, Connection: close
        project, main = copy_sample(tmp_path, "api"), "cmd/api/main.go"
        hotgo = Hotgo(["run", "./cmd/api", "--listen", f"127.0.0.1:{port}", "--log-format", "json"], cwd=project)
    else:
        project, main = wild, "main.go"
        hotgo = start(wild, port, f"-stop={stop}")
    with hotgo, Load(port, clients=CLIENTS, max_seconds=180) as load:
        hotgo.wait_event("done", 90)
        failed_before = 0  # the clients start before hotgo serves: refused until then
        for i in range(2, 5):
            serving = psutil.Process(hotgo.wait_event("done", 90, i - 1)["pid"])
            wait_for(lambda p=serving.pid: established(p, port) == CLIENTS, 20, f"{CLIENTS} keep-alive connections")
            if i == 2:
                failed_before = len(load.result.failures)
            set_version(project, f"v{i}", main=main)
            hotgo.wait_event("done", 90, i)
            load.wait_seen(f"v{i}")
        failures = load.stop().failures[failed_before:]
        done = hotgo.events("done")[1:]
    messages = [d["message"] for d in done]
    assert [d["connections_open"] for d in done] == [CLIENTS] * 3, messages
    assert [d["connections_cut"] for d in done] == [cut] * 3, messages
    assert [d["connections_closed"] for d in done] == [CLIENTS - cut] * 3, messages
    # Shutdown(ctx) may answer a request already under way with `Connection: close` and then close
    # first: that client leaves in order, yet the kernel shows what an idle connection closed under its
    # client shows, so it counts as cut (docs/architecture.md, "Draining"). Seen once in 24; allowed
    # once per reload. An exit answers nothing after its stop signal: exact.
    slack = 3 if stop in ("shutdown", "announce-shutdown") else 0
    assert 3 * cut - slack <= len(failures) <= 3 * cut, (failures[:5], messages)
    if cut:
        warning = hotgo.events("cut_connections")
        # Wording is the point here: the one test of the cut-connections hint, which names the fix.
        assert len(warning) == 1 and "Connection: close" in warning[0]["message"], hotgo.transcript()
        # STOPPING=1 reached hotgo (the wording says so) and changed no count.
        assert ("announced its drain" in warning[0]["message"]) == (stop == "announce-shutdown"), warning
    else:
        assert hotgo.events("cut_connections") == []


def test_service_on_a_port_of_its_own_is_named_with_the_fix_and_edits_still_land(wild: Path) -> None:
    """Wording is the point of the own-port hint's checks (the one test of it): it names the fix."""
    port, own = free_port(), free_port()
    with start(wild, port, "-own", f"-addr=127.0.0.1:{own}") as hotgo:
        started = hotgo.wait_event("start", 90)
        said = hotgo.wait_event("own_port", 90)
        assert event_time(said) - event_time(started) <= 2.0, (started, said)
        assert said["listen"] == [f"127.0.0.1:{own}"], said
        assert "--socket none" in said["message"] and "LISTEN_FDS" in said["message"], said
        done = hotgo.wait_event("done", 90)
        # No field says where it serves: the summary line must not claim the shared port.
        assert f"on its own port 127.0.0.1:{own}" in done["message"], done
        set_version(wild, "w2", main="main.go")  # the new process needs the port the old one holds
        hotgo.wait_event("done", 90, 2)
        assert field_of(get(own), "version") == "w2"
        status = subprocess.run([sys.executable, "-m", "hotgo", "status", "--json"], cwd=wild, capture_output=True,
                                text=True, timeout=30)
        assert f"127.0.0.1:{own}" in json.loads(status.stdout)["note"], status.stdout


def test_service_binding_the_shared_port_itself_under_socket_inherit_is_told_why_it_fails(wild: Path) -> None:
    """Wording is the point of the message check (the one test of the "address already in use" advice).
    The user chose inherit: hotgo keeps its socket and explains (under auto it lets go: test_first_run)."""
    port = free_port()
    with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--socket", "inherit", "--", "-own",
                f"-addr=127.0.0.1:{port}"], cwd=wild) as hotgo:
        started = hotgo.wait_event("start", 90)
        said = hotgo.wait_event("address_in_use", 90)
        assert event_time(said) - event_time(started) <= 2.0
        assert "fd 3" in said["message"] and "--socket none" in said["message"], said
        assert hotgo.events("done") == [] and hotgo.events("socket_released") == []


def test_chatty_service_keeps_answering_while_hotgo_output_is_not_read(wild: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hotgo", "run", ".", "--listen", f"127.0.0.1:{port}", "--log-format", "json", "--",
         "-log", "-log-bytes=2000"],
        cwd=wild, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env={**__import__("os").environ, "NO_COLOR": "1"},
    )
    try:
        wait_for(lambda: get(port) is not None, 120, "the service answering")
        # Nobody reads hotgo's output for 10 s while four clients keep the service logging.
        answered: List[int] = []
        hung: List[str] = []
        deadline = time.monotonic() + 10

        def client() -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=3)
            count = 0
            while time.monotonic() < deadline and count < 50_000:
                count += 1
                try:
                    conn.request("GET", "/")
                    conn.getresponse().read()
                    answered.append(1)
                except (OSError, http.client.HTTPException) as err:
                    hung.append(f"{type(err).__name__}: {err}")
                    conn.close()
            conn.close()

        threads = [threading.Thread(target=client, daemon=True) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert hung == [], hung[:5]
        assert len(answered) > 3000, len(answered)  # > 6 MB of log lines: more than hotgo may hold
        # Now read: hotgo says how many lines it dropped.
        lines: List[bytes] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout or []), daemon=True)
        reader.start()

        def notices() -> List[Dict[str, Any]]:
            return [json.loads(line) for line in list(lines) if b'"output_dropped"' in line]

        wait_for(notices, 30, "the dropped-lines notice")
        notice = notices()[0]
        assert notice["service"] == "wild 1" and notice["lines"] > 0, notice
    finally:
        kill_tree(proc.pid)
        proc.wait(10)


@pytest.mark.parametrize("socket", ["auto", "inherit"])
def test_service_binding_the_shared_port_with_reuseport_and_ready_is_named(wild: Path, socket: str) -> None:
    """Like Caddy with `bind 127.0.0.1`: its own SO_REUSEPORT socket beside hotgo's, and READY=1 first.
    Under auto hotgo lets go of its socket (the service's own gets every connection) and hands off
    beside it; under a chosen inherit it says what happens."""
    port = free_port()
    with Hotgo(["run", ".", "--listen", f"127.0.0.1:{port}", "--socket", socket, "--", "-own", "-reuseport",
                "-notify", f"-addr=127.0.0.1:{port}"], cwd=wild) as hotgo:
        started = hotgo.wait_event("start", 90)
        said = hotgo.wait_event("socket_released" if socket == "auto" else "own_port", 90)
        assert event_time(said) - event_time(started) <= 2.0, (started, said)
        assert said["listen"] == [f"127.0.0.1:{port}"], said  # beside the shared socket, on its port
        assert hotgo.wait_event("ready", 90)["how"] == "READY=1"
        if socket == "auto":
            assert said["socket"] == "reuseport", said
            set_version(wild, "w2", main="main.go")
            hotgo.wait_event("done", 90, 2)
            wait_for(lambda: field_of(get(port), "version") == "w2", 30, "w2 served beside the old one")
            assert hotgo.events("own_port") == [], hotgo.transcript()
