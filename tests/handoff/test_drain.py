"""The drain report on real sockets without Go: who ended each connection, and was it announced?"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from typing import Iterator, List

import pytest
from harness import wait_for

from hotgo.handoff.drain import DrainReport, DrainWatch
from hotgo.platform import linux_proc

pytestmark = pytest.mark.skipif(not linux_proc.AVAILABLE, reason="follows connections through Linux /proc")

# Accepts connections until stdin says "close" (it closes them all, then exits) or "exit".
SERVER = """
import socket, sys
server = socket.socket()
server.bind(("127.0.0.1", 0))
server.listen(64)
print(server.getsockname()[1], flush=True)
server.settimeout(0.05)
held = []
while True:
    try:
        held.append(server.accept()[0])
    except socket.timeout:
        pass
    import select
    if select.select([sys.stdin], [], [], 0)[0]:
        what = sys.stdin.readline().strip()
        if what == "close":
            for conn in held:
                conn.close()
            select.select([], [], [], 0.3)  # closed, still alive: the client answers the FIN meanwhile
        sys.exit(0)
"""


_started: List[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _no_server_left() -> Iterator[None]:
    yield
    while _started:
        proc = _started.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def start_server() -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen([sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    _started.append(proc)
    assert proc.stdout is not None
    return proc, int(proc.stdout.readline())


def connect(port: int, count: int) -> List[socket.socket]:
    return [socket.create_connection(("127.0.0.1", port)) for _ in range(count)]


def follow(proc: subprocess.Popen[str], port: int, command: str, announce: bool,
           clients: List[socket.socket], clients_close_first: bool = False) -> DrainReport:
    wait_for(lambda: len(linux_proc.connections(proc.pid, [port]) or []) == len(clients), 10, "connections accepted")
    reports: List[DrainReport] = []
    watch = DrainWatch(proc.pid, [port], reports.append)
    if announce:
        watch.announced()
    if clients_close_first:
        for client in clients:
            client.close()
        time.sleep(0.05)  # the server side sits in CLOSE_WAIT: seen by the watch
    # Each client closes when it reads the end, as a keep-alive client does.
    readers = [threading.Thread(target=lambda c=c: (c.recv(1), c.close()), daemon=True)
               for c in clients if not clients_close_first]
    for reader in readers:
        reader.start()
    assert proc.stdin is not None
    proc.stdin.write(command + "\n")
    proc.stdin.flush()
    proc.wait(10)
    watch.exited()
    wait_for(lambda: reports, 10, "the drain report")
    return reports[0]


@pytest.mark.parametrize("command", ["close", "exit"])
def test_connections_the_service_ends_unannounced_are_cut(command: str) -> None:
    proc, port = start_server()
    clients = connect(port, 5)
    report = follow(proc, port, command, announce=False, clients=clients)
    assert (report.open, report.cut, report.orderly) == (5, 5, 0), report


def test_an_announced_drain_that_closes_before_its_clients_still_cuts() -> None:
    """STOPPING=1 then Shutdown (as Caddy drains): the kernel cannot show a `Connection: close`, and
    keep-alive clients of connections the server closes first fail (issue 21)."""
    proc, port = start_server()
    report = follow(proc, port, "close", announce=True, clients=connect(port, 5))
    assert (report.open, report.cut, report.orderly, report.announced) == (5, 5, 0, True), report


def test_connections_the_clients_close_first_are_in_order() -> None:
    proc, port = start_server()
    report = follow(proc, port, "close", announce=False, clients=connect(port, 4), clients_close_first=True)
    assert (report.open, report.cut, report.orderly) == (4, 0, 4), report


def test_a_request_sent_into_a_closed_connection_is_a_reset() -> None:
    proc, port = start_server()
    clients = connect(port, 3)
    wait_for(lambda: len(linux_proc.connections(proc.pid, [port]) or []) == 3, 10, "connections accepted")
    reports: List[DrainReport] = []
    watch = DrainWatch(proc.pid, [port], reports.append)
    watch.announced()  # even an announced drain cuts a request that meets a closed connection
    for client in clients:
        client.sendall(b"GET / HTTP/1.1\r\n\r\n")  # unread by the server when it exits: RST
    assert proc.stdin is not None
    proc.stdin.write("exit\n")
    proc.stdin.flush()
    proc.wait(10)
    watch.exited()
    wait_for(lambda: reports, 10, "the drain report")
    assert (reports[0].open, reports[0].cut) == (3, 3), reports[0]
    for client in clients:
        client.close()


def test_no_connections_reports_at_once() -> None:
    proc, port = start_server()
    reports: List[DrainReport] = []
    watch = DrainWatch(proc.pid, [port], reports.append)
    assert proc.stdin is not None
    proc.stdin.write("exit\n")
    proc.stdin.flush()
    proc.wait(10)
    watch.exited()
    assert reports == [DrainReport(0)]
    assert reports[0].describe("SIGTERM") == "no open connections"
