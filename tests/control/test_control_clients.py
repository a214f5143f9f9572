"""`hotgo status/reload/rollback/stop` never hang and never crash on what answers them (issue 23).

The endpoint here is a socket of the test's own, named in `.hotgo/run/control` as hotgo names its
own: it answers what the test says (something foreign or garbled), or accepts and says nothing.
No hotgo runs and nothing is built: a go.mod is all a project needs for the clients.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

from hotgo import platform
from hotgo.cli import main
from hotgo.control.channel import CLIENT_TIMEOUT

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="the endpoint is a unix socket here")

COMMANDS = ["status", "reload", "rollback", "stop"]


class Endpoint:
    """A unix socket that answers every connection with `answer` (read the request first), or, with
    None, reads the request and never answers; `close_at_once` closes without reading or answering."""

    def __init__(self, project: Path, answer: Optional[bytes], close_at_once: bool = False) -> None:
        self.directory = tempfile.mkdtemp(prefix="hgc-")  # short: sun_path holds ~100 bytes
        self.path = os.path.join(self.directory, "control.sock")
        self.answer = answer
        self.close_at_once = close_at_once
        self.sock = platform.unix_socket(socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(8)
        self.sock.settimeout(0.1)  # accept wakes to see close()
        self.held: List[socket.socket] = []
        self._stop = threading.Event()
        run = project / ".hotgo" / "run"
        run.mkdir(parents=True)
        (run / "control").write_text(f"unix:{self.path}")
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.close_at_once:
                conn.close()
                continue
            conn.settimeout(5)
            try:
                conn.recv(65536)
                if self.answer is not None:
                    conn.sendall(self.answer)
                    conn.close()
                    continue
            except OSError:
                conn.close()
                continue
            self.held.append(conn)  # accepted, read, never answered

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.held:
            conn.close()
        self._thread.join(timeout=5)
        shutil.rmtree(self.directory, ignore_errors=True)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "go.mod").write_text("module example.com/p\n\ngo 1.22\n")
    return tmp_path


@pytest.fixture
def endpoints() -> Iterator[List[Endpoint]]:
    made: List[Endpoint] = []
    yield made
    for endpoint in made:
        endpoint.close()


def client(command: str, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotgo", command, *flags], cwd=cwd, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, env={**os.environ, "NO_COLOR": "1"})


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """Exit 1 and one line on stderr, no traceback, no internal error."""
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "internal error" not in output, output
    message = result.stderr.strip()
    assert message.startswith("hotgo: ") and "\n" not in message, output
    return message


STATUS_FIELDS = {"generation": 1, "pid": 42, "binary": "/b", "started_at": "", "state": "ready",
                 "last_build": {"result": "ok"}, "last_config_push": {"result": "none"}, "socket": "inherit",
                 "listen": [":8080"], "note": "", "rollback_to": "", "generations": []}

STATUS = ["status"]

# (answer, the commands for which it is not hotgo's: a status-only flaw fools no other command)
FOREIGN = [
    pytest.param(b'{"ok": true}\n', COMMANDS, id="ok-only"),
    pytest.param(b'{"ok": true, "status": {}}\n', COMMANDS, id="empty-status"),
    pytest.param(json.dumps({"ok": True, "status": {**STATUS_FIELDS, "generation": "1"}}).encode() + b"\n",
                 COMMANDS, id="status-field-of-another-type"),
    pytest.param(json.dumps({"ok": True, "status": {**STATUS_FIELDS, "last_config_push": {"result": "failed"}},
                             "message": "x", "pid": 1}).encode() + b"\n", STATUS, id="push-without-its-fields"),
    pytest.param(json.dumps({"ok": True, "status": {**STATUS_FIELDS, "generations": [{"pid": 1}]},
                             "message": "x", "pid": True}).encode() + b"\n", ["status", "stop"],
                 id="generation-without-fields"),
    pytest.param(b'{"ok": "yes", "message": "fine"}\n', COMMANDS, id="ok-not-a-bool"),
    pytest.param(b'{"ok": false}\n', COMMANDS, id="refusal-without-error"),
    pytest.param(b'[1, 2, 3]\n', COMMANDS, id="json-list"),
    pytest.param(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n', COMMANDS, id="http"),
    pytest.param(bytes(range(256)) + b"\n", COMMANDS, id="binary-garbage"),
    pytest.param(b'{"ok": tr', COMMANDS, id="cut-short"),
    pytest.param(b"x" * (2 << 20), COMMANDS, id="endless-line"),
]


@pytest.mark.parametrize(("answer", "commands"), FOREIGN)
def test_a_foreign_or_garbled_answer_is_one_line(project: Path, endpoints: List[Endpoint], answer: bytes,
                                                 commands: List[str], monkeypatch: pytest.MonkeyPatch,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """In this process (cli.main, as `hotgo` runs it), which keeps the matrix quick; the other tests run the
    command itself."""
    endpoints.append(Endpoint(project, answer))
    monkeypatch.chdir(project)
    for command in commands:
        for flags in ((), ("--json",)):
            code = main([command, *flags])
            captured = capsys.readouterr()
            message = one_line_failure(subprocess.CompletedProcess([command], code, captured.out, captured.err))
            assert "answered something that is not hotgo's" in message, message
            assert str(project / ".hotgo" / "run" / "control") in message, message


def test_an_endpoint_that_never_answers_is_given_up_on_within_seconds(project: Path,
                                                                      endpoints: List[Endpoint]) -> None:
    endpoints.append(Endpoint(project, None))
    (project / ".hotgo" / "run" / "lock").write_text("4242")
    for command in COMMANDS:
        started = time.monotonic()
        result = client(command, project)
        took = time.monotonic() - started
        message = one_line_failure(result)
        assert f"no answer within {CLIENT_TIMEOUT:g}s" in message and "(pid 4242)" in message, message
        # the client's own timeout, plus the interpreter's start on a busy machine
        assert CLIENT_TIMEOUT - 0.5 < took < CLIENT_TIMEOUT + 10, (command, took)


def test_an_endpoint_that_closes_at_once_is_one_line(project: Path, endpoints: List[Endpoint]) -> None:
    endpoints.append(Endpoint(project, None, close_at_once=True))
    for command in COMMANDS:
        message = one_line_failure(client(command, project))
        assert "closed the connection without an answer" in message or "cannot reach hotgo" in message, message


def test_a_real_answer_still_reads(project: Path, endpoints: List[Endpoint]) -> None:
    """The checks refuse nothing hotgo sends: the status fields of docs/reference.md pass."""
    endpoints.append(Endpoint(project, json.dumps({"ok": True, "status": STATUS_FIELDS}).encode() + b"\n"))
    result = client("status", project)
    assert result.returncode == 0 and "generation 1 ready · pid 42" in result.stdout, result.stdout + result.stderr
    result = client("status", project, "--json")
    assert result.returncode == 0 and json.loads(result.stdout) == STATUS_FIELDS, result.stdout + result.stderr


@pytest.mark.parametrize("name", ["lock", "control.sock"])
def test_a_directory_where_the_run_directory_keeps_a_file_is_one_line(api_project: Path, name: str) -> None:
    """`hotgo run` names the directory to remove (exit 2) instead of failing inside."""
    in_the_way = api_project / ".hotgo" / "run" / name
    if len(str(in_the_way)) > 100:  # hotgo puts the socket in a private temporary directory instead
        pytest.skip(f"{in_the_way} is too long for a unix socket's path")
    in_the_way.mkdir(parents=True)
    result = subprocess.run([sys.executable, "-m", "hotgo", "run", "./cmd/api", "--listen", "127.0.0.1:0"],
                            cwd=api_project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                            env={**os.environ, "NO_COLOR": "1"})
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and "internal error" not in output, output
    message = result.stderr.strip()
    assert message == f"hotgo: error: {in_the_way} is a directory; remove it " \
                      f"(hotgo {'keeps its lock file' if name == 'lock' else 'puts its control socket'} there)", output
