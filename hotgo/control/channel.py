"""The project's run directory: one hotgo per project (a lock) and a local control endpoint.

POSIX: a unix socket in `.hotgo/run/` (directory 0700, socket 0600), and the
peer's uid checked with SO_PEERCRED where the OS has it: another user cannot
talk to it. Windows: loopback TCP with a random token in a file only the user
can read (the endpoint file says where). One JSON line in, one JSON line out.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable, Dict, Optional

from hotgo import platform
from hotgo.control.status_text import status_problem
from hotgo.errors import RuntimeFailure, UsageError

Reply = Dict[str, Any]
_MAX_UNIX_PATH = 100  # sun_path is 104-108 bytes depending on the OS
# `hotgo status/reload/rollback/stop` give up on an endpoint that accepts and says nothing after this
# long; the running hotgo answers "busy" before it (REPLY_WAIT), so a slow loop is told apart from a hang.
# A loop that stages a binary on a slow disk (or under Wine) may take seconds to reach a request: 10 s.
CLIENT_TIMEOUT = 10.0
REPLY_WAIT = CLIENT_TIMEOUT - 1.5
_SHOWN_ANSWER = 80  # how much of a foreign answer a message quotes


class RunDir:
    """`.hotgo/run`: lock, control endpoint, token."""

    def __init__(self, state_dir: Path) -> None:
        self.path = state_dir / "run"
        self.lock_path = self.path / "lock"
        self.endpoint_file = self.path / "control"  # where the endpoint is (socket path or port)
        self.token_file = self.path / "control.token"
        self._lock_handle: Optional[IO[str]] = None

    def create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            os.chmod(self.path, 0o700)
        except OSError as err:
            raise RuntimeFailure(f"cannot create {self.path}: {err.strerror}") from None

    def lock(self) -> None:
        """Refuse a second hotgo on the same project, naming the first."""
        try:
            handle = self.lock_path.open("a+", encoding="utf-8", errors="replace")
        except IsADirectoryError:
            raise UsageError(f"{self.lock_path} is a directory; remove it (hotgo keeps its lock file there)") from None
        except OSError as err:
            raise RuntimeFailure(f"cannot open {self.lock_path}: {(err.strerror or str(err)).lower()}") from None
        try:
            platform.lock_file(handle)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise UsageError(
                f"another hotgo (pid {holder}) is already running for this project ({self.path.parent.parent}); "
                "use `hotgo status` / `hotgo stop`, or run this one elsewhere"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_handle = handle

    def unlock(self) -> None:
        if self._lock_handle is not None:
            self._lock_handle.close()
            self._lock_handle = None


def _unix_path(run: RunDir) -> Path:
    path = run.path / "control.sock"
    if len(str(path)) <= _MAX_UNIX_PATH:
        return path
    # Deep project paths: a short path in a private per-user directory instead.
    private = Path(tempfile.gettempdir()) / f"hotgo-{platform.user_id()}"
    private.mkdir(mode=0o700, exist_ok=True)
    if private.stat().st_uid != platform.user_id():
        raise RuntimeFailure(f"{private} belongs to another user; cannot put the control socket there")
    return private / (hashlib.sha1(str(run.path).encode()).hexdigest()[:16] + ".sock")


class ControlServer:
    """Accepts requests on its own thread; `handle` runs them (the supervisor posts them to its loop)."""

    def __init__(self, run: RunDir, handle: Callable[[Dict[str, Any]], Reply]) -> None:
        self.run = run
        self.handle = handle
        self._token = ""
        self._closed = False
        self.sock = self._listen()
        threading.Thread(target=self._serve, name="hotgo-control", daemon=True).start()

    def _listen(self) -> socket.socket:
        if not platform.CAPABILITIES.unix_control_socket:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            self._token = secrets.token_hex(32)
            _write_private(self.run.token_file, self._token)
            _write_private(self.run.endpoint_file, f"tcp:127.0.0.1:{sock.getsockname()[1]}")
        else:
            path = _unix_path(self.run)
            try:
                path.unlink()
            except FileNotFoundError:
                pass
            except IsADirectoryError:  # EISDIR (Linux); macOS says EPERM: bind below says so then
                raise UsageError(f"{path} is a directory; remove it (hotgo puts its control socket there)") from None
            sock = platform.unix_socket(socket.SOCK_STREAM)
            old_umask = os.umask(0o177)  # the socket is born 0600: no window for another user
            try:
                sock.bind(str(path))
            finally:
                os.umask(old_umask)
            try:
                _write_private(self.run.endpoint_file, f"unix:{path}")
            except IsADirectoryError:  # we hold the project's lock: no other hotgo made it
                sock.close()
                raise UsageError(f"{self.run.endpoint_file} is a directory; remove it (hotgo writes its control "
                                 "endpoint there)") from None
        sock.listen(16)
        return sock

    def _serve(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(30)
            try:
                if not platform.peer_is_this_user(conn):
                    _send(conn, {"ok": False, "error": "refused: not the user running hotgo"})
                    return
                request = json.loads(_read_line(conn) or "{}")
                if self._token and not secrets.compare_digest(str(request.get("token", "")), self._token):
                    _send(conn, {"ok": False, "error": "refused: bad token"})
                    return
                _send(conn, self.handle(request))
            except (OSError, ValueError) as err:
                try:
                    _send(conn, {"ok": False, "error": f"bad request: {err}"})
                except OSError:
                    pass

    def close(self) -> None:
        self._closed = True
        try:
            self.sock.close()
        finally:
            for leftover in (self.run.endpoint_file, self.run.token_file):
                try:
                    endpoint = leftover.read_text() if leftover == self.run.endpoint_file else ""
                    leftover.unlink()
                    if endpoint.startswith("unix:"):
                        os.unlink(endpoint[5:])
                except OSError:
                    pass


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _read_line(conn: socket.socket, deadline: Optional[float] = None) -> str:
    """One line (at most 1 MiB); by `deadline` (time.monotonic) at the latest: socket.timeout after it."""
    data = b""
    while not data.endswith(b"\n") and len(data) < 1 << 20:
        if deadline is not None:
            conn.settimeout(max(0.001, deadline - time.monotonic()))
        chunk = conn.recv(65536)
        if not chunk:
            break
        data += chunk
    return data.decode("utf-8", errors="replace")


def _send(conn: socket.socket, reply: Reply) -> None:
    conn.sendall(json.dumps(reply).encode() + b"\n")


def request(state_dir: Path, command: str, timeout: float = CLIENT_TIMEOUT, service: str = "") -> Reply:
    """Ask the running hotgo of this project, within `timeout` seconds in all; failures are RuntimeFailure,
    one line each: nothing running, unreachable, no answer in time, or an answer that is not hotgo's."""
    run = RunDir(state_dir)
    try:
        endpoint = run.endpoint_file.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        raise RuntimeFailure(f"no hotgo is running for this project (no {run.endpoint_file})") from None
    except PermissionError:
        raise RuntimeFailure(f"{run.endpoint_file}: permission denied (hotgo runs as another user)") from None
    except (OSError, UnicodeDecodeError):  # a directory, garbage: no hotgo wrote it
        raise RuntimeFailure(f"no hotgo is running for this project ({run.endpoint_file} is not a control "
                             "endpoint; remove it)") from None
    if not endpoint.startswith(("unix:", "tcp:")):
        raise RuntimeFailure(f"no hotgo is running for this project ({run.endpoint_file} holds no control "
                             "endpoint; remove it)")
    message: Dict[str, Any] = {"command": command}
    if service:
        message["service"] = service
    deadline = time.monotonic() + timeout
    try:
        if endpoint.startswith("tcp:"):
            host, _, port = endpoint[4:].rpartition(":")
            message["token"] = run.token_file.read_text(encoding="utf-8").strip()
            if not port.isdigit():
                raise RuntimeFailure(f"{run.endpoint_file}: unknown endpoint {endpoint!r}; remove it")
            conn = socket.create_connection((host, int(port)), timeout=timeout)
        elif platform.CAPABILITIES.unix_control_socket and endpoint.startswith("unix:"):
            conn = platform.unix_socket(socket.SOCK_STREAM)
            conn.settimeout(timeout)
            conn.connect(endpoint[5:])
        else:
            raise RuntimeFailure(f"{run.endpoint_file}: unknown endpoint {endpoint!r}")
        with conn:
            _send(conn, message)
            line = _read_line(conn, deadline)
    except socket.timeout:  # TimeoutError from 3.10 on; an OSError either way, so caught first
        raise RuntimeFailure(f"no answer within {timeout:g}s from the control endpoint in {run.endpoint_file}: "
                             f"the hotgo there{_holder(run)} does not answer, or it is not hotgo's") from None
    except (ConnectionRefusedError, FileNotFoundError):
        raise RuntimeFailure("no hotgo is running for this project (its control socket is gone)") from None
    except PermissionError:
        raise RuntimeFailure("permission denied: this hotgo belongs to another user") from None
    except OSError as err:
        raise RuntimeFailure(f"cannot reach hotgo: {err}") from None
    if not line:
        raise RuntimeFailure("hotgo closed the connection without an answer")
    try:
        reply = json.loads(line)
    except ValueError:
        reply = None
    problem = reply_problem(command, reply)
    if problem:
        shown = " ".join(line.split())
        shown = shown if len(shown) <= _SHOWN_ANSWER else shown[: _SHOWN_ANSWER - 1] + "…"
        raise RuntimeFailure(f"the control endpoint in {run.endpoint_file} answered something that is not "
                             f"hotgo's ({problem}: {shown!r})")
    assert isinstance(reply, dict)
    return reply


def _holder(run: RunDir) -> str:
    """ " (pid N)" from the lock file, when it names one."""
    try:
        pid = run.lock_path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""


def reply_problem(command: str, reply: object) -> str:
    """What makes `reply` not an answer of hotgo's to `command` ("" when it is one)."""
    if not isinstance(reply, dict):
        return "not a JSON object"
    if not isinstance(reply.get("ok"), bool):
        return "no ok field"
    if not reply["ok"]:
        return "" if isinstance(reply.get("error"), str) else "a refusal without an error"
    if command == "status":
        return status_problem(reply.get("status"))
    if not isinstance(reply.get("message"), str):
        return "no message"
    if command == "stop" and "service" in reply:  # one service of several stops: hotgo keeps running
        return "" if isinstance(reply["service"], str) else "a service that is not text"
    if command == "stop" and (not isinstance(reply.get("pid"), int) or isinstance(reply.get("pid"), bool)
                              or reply["pid"] <= 0):
        return "no pid"
    return ""
