"""`--front ADDR`: the front door, a small Go reverse proxy in front of the first listen address.

Its sources are front/ in the repository (module github.com/hotgo-dev/hotgo/front); a wheel
carries them as hotgo/_front/. hotgo builds it once with the user's go into .hotgo/front/,
named by a hash of the sources and `go version` (rebuilt only when either changes), and runs it
for the whole run. It holds a request while no process accepts (up to ready_timeout) and, told
"pause" before hotgo stops a generation that has no successor yet (socket mode none), holds new
requests and answers once those in flight are done; "resume" when a new generation is ready makes
new requests use new connections. Why a request is resent, or not: front/main.go.
"""

from __future__ import annotations

import hashlib
import os
import queue
import subprocess
import threading
from pathlib import Path
from typing import IO, Optional, Sequence

from hotgo import platform
from hotgo.errors import UsageError
from hotgo.log import Log
from hotgo.settings.addresses import ListenAddress, parse_listen

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
PLACES = (_PACKAGE_DIR / "_front", _PACKAGE_DIR.parent / "front")
MODULE_PATH = "github.com/hotgo-dev/hotgo/front"
# How long the front door holds new requests after the old generation's stop signal: time for it to close its
# listener (a Go server's Shutdown does so first), so that no new connection reaches it.
FRONT_SETTLE = 0.03
_WILDCARD_TO_LOOPBACK = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}


def front_sources(places: Sequence[Path] = PLACES) -> Path:
    for directory in places:
        mod = directory / "go.mod"
        if mod.is_file() and MODULE_PATH in mod.read_text():
            return directory
    raise UsageError(f"--front: this hotgo carries no front door sources (looked in "
                     f"{', '.join(str(p) for p in places)})")


def _go_env() -> dict[str, str]:
    # The user's GOFLAGS (-mod=vendor …) and go.work are for their module, not this one.
    return {**os.environ, "GOFLAGS": "", "GOWORK": "off", "CGO_ENABLED": "0"}


def build_front(go: str, state_dir: Path, sources: Optional[Path] = None) -> Path:
    """The front door's binary in state_dir/front/, built if missing or stale."""
    source = sources or front_sources()
    env = _go_env()
    version = subprocess.run([go, "version"], capture_output=True, text=True, env=env, check=False).stdout
    hasher = hashlib.sha256(version.encode())
    for path in sorted(source.iterdir(), key=lambda p: p.name):
        if path.name == "go.mod" or (path.suffix == ".go" and not path.name.endswith("_test.go")):
            hasher.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    out_dir = state_dir / "front"
    binary = out_dir / f"front-{hasher.hexdigest()[:12]}{platform.EXE_SUFFIX}"
    if binary.is_file():
        return binary
    out_dir.mkdir(parents=True, exist_ok=True)
    partial = out_dir / f"partial-{os.getpid()}{platform.EXE_SUFFIX}"
    done = subprocess.run([go, "build", "-trimpath", "-o", str(partial), "."], cwd=str(source), env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise UsageError(f"--front: go build of the front door failed:\n{done.stdout}{done.stderr}")
    os.replace(partial, binary)
    for old in out_dir.iterdir():  # older builds: not needed any more
        if old != binary:
            try:
                old.unlink()
            except OSError:
                pass
    return binary


class FrontDoor:
    """The running front door: a child process hotgo talks to on its stdin."""

    def __init__(self, binary: Path, listen: str, upstream: str, hold: float, log: Log) -> None:
        self.log = log
        self._lines: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        argv = [str(binary), "-listen", listen, "-upstream", upstream, "-hold", f"{hold:g}s"]
        self.proc = platform.spawn_tool(argv, dict(os.environ), str(binary.parent), stdin=subprocess.PIPE)
        self._stdin: IO[bytes] = self.proc.stdin  # type: ignore[assignment]
        threading.Thread(target=self._read, name="hotgo-front", daemon=True).start()
        first = self._next(10.0)
        if first is None or not first.startswith("listening "):
            self.stop()
            raise UsageError(f"--front {listen}: {first or 'the front door did not start'}")
        self.address = first.split(" ", 1)[1]

    def _read(self) -> None:
        stdout = self.proc.stdout
        assert stdout is not None
        for raw in stdout:
            self._lines.put(raw.decode(errors="replace").strip())
        self._lines.put("")

    def _next(self, timeout: float) -> Optional[str]:
        try:
            return self._lines.get(timeout=timeout)
        except queue.Empty:
            return None

    def _send(self, command: str) -> bool:
        try:
            self._stdin.write(command.encode() + b"\n")
            self._stdin.flush()
            return True
        except OSError:
            return False

    def pause(self, timeout: float) -> None:
        """Hold new requests; return once those in flight are answered (at most `timeout`)."""
        with self._lock:
            if not self._send("pause"):
                return
            answer = self._next(timeout + 1.0)
            if answer is None or not answer.startswith("paused "):
                return
            left = answer.split(" ", 1)[1]
            if left != "0":
                self.log.warn(f"front door: {left} request(s) still in flight when the old generation stops")

    def hold(self) -> None:
        """New requests wait (until resume, at most the hold time); those in flight go on."""
        with self._lock:
            if self._send("hold"):
                self._next(2.0)

    def resume(self) -> None:
        """A new generation is ready: let held requests go, on new connections."""
        with self._lock:
            if self._send("resume"):
                self._next(3.0)

    def stop(self) -> None:
        try:
            self._stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            platform.kill_tree(self.proc)
            self.proc.wait()
        platform.release(self.proc)


def open_front(listen: str, addresses: Sequence[ListenAddress], go: str, state_dir: Path, hold: float,
               log: Log) -> FrontDoor:
    """Build (if needed) and start the front door in front of the first listen address."""
    where = parse_listen(listen)
    target = addresses[0]
    host = _WILDCARD_TO_LOOPBACK.get(target.host, target.host)
    upstream = f"[{host}]:{target.port}" if ":" in host else f"{host}:{target.port}"
    binary = build_front(go or "go", state_dir)
    door = FrontDoor(binary, str(where), upstream, hold, log)
    log.info(f"front door: {door.address} (proxy to {target}): requests held up to {hold:g} s while no "
             "generation accepts", event="front", address=door.address)
    return door
