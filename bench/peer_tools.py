"""What bench/peers.py needs besides the rows themselves: the peers (air, reflex, nodemon) installed
into a cache directory when missing, a reloader run in its own process group, the probe and the
timed save → served, and a bounded `wrk` per edit.

Everything runs on 127.0.0.1 and is bounded in time; every process started here is stopped with
its whole process group.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import psutil
from common import PACKAGE, LoadStats, WrkLoad, set_version, wait_for
from harness import field_of, process_tree

POLL = 0.005  # the probe's period, seconds
INSTALL_TIMEOUT = 300.0  # per installation attempt, seconds

AIR = ("github.com/air-verse/air", "v1.67.4")
REFLEX = ("github.com/cespare/reflex", "v0.3.1")
NODEMON = "3.1.14"


# -- the peers, installed when missing ------------------------------------------------------------------


@dataclass
class Tool:
    name: str
    path: Optional[str] = None  # None: not available, `why` says why
    version: str = ""
    why: str = ""


def default_tools_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hotgo-bench"


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else "no output"


def run_bounded(argv: List[str], env: Optional[Dict[str, str]] = None, timeout: float = INSTALL_TIMEOUT,
         cwd: Optional[Path] = None) -> Tuple[bool, str]:
    """(succeeded, the output's last line); its own process group, killed whole on timeout."""
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, start_new_session=True)
    except OSError as err:
        return False, str(err)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        proc.communicate()
        return False, f"timed out after {timeout:g} s"
    except BaseException:
        kill_group(proc)
        raise
    return proc.returncode == 0, _last_line(out)


def module_version(binary: str) -> str:
    """The main module's version a Go binary was built from (`go version -m`), or ''."""
    done = subprocess.run(["go", "version", "-m", binary], capture_output=True, text=True, timeout=60, check=False)
    found = re.search(r"^\s*mod\s+\S+\s+(\S+)", done.stdout, re.MULTILINE)
    return found.group(1) if found else ""


def go_tool(name: str, module: str, version: str, tools: Path, fallback_latest: bool = False) -> Tool:
    """`name` from `tools/`, else `GOBIN=tools go install module@version` (then @latest once, if allowed)."""
    binary = tools / name
    if not binary.is_file():
        if shutil.which("go") is None:
            return Tool(name, why="could not install (no `go` on PATH)")
        tools.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "GOBIN": str(tools)}
        why = ""
        for wanted in [version, *(["latest"] if fallback_latest else [])]:
            ok, why = run_bounded(["go", "install", f"{module}@{wanted}"], env)
            if ok and binary.is_file():
                break
        else:
            return _from_path(name, f"could not install ({why})")
    return Tool(name, str(binary), module_version(str(binary)) or "unknown version")


def nodemon_tool(tools: Path) -> Tool:
    """nodemon from `tools/npm`, else `npm install --prefix tools/npm nodemon@VERSION`."""
    binary = tools / "npm" / "node_modules" / ".bin" / "nodemon"
    if not binary.is_file():
        if shutil.which("npm") is None:
            return _from_path("nodemon", "could not install (no `npm` on PATH)")
        (tools / "npm").mkdir(parents=True, exist_ok=True)
        ok, why = run_bounded(["npm", "install", "--no-audit", "--no-fund", "--prefix", str(tools / "npm"),
                        f"nodemon@{NODEMON}"])
        if not (ok and binary.is_file()):
            return _from_path("nodemon", f"could not install ({why})")
    ok, version = run_bounded([str(binary), "--version"], timeout=60)
    return Tool("nodemon", str(binary), version if ok else "unknown version")


def _from_path(name: str, why: str) -> Tool:
    """When installing failed: one already on PATH, said to be so, or the reason it is missing."""
    found = shutil.which(name)
    if found is None:
        return Tool(name, why=why)
    version = module_version(found) if name != "nodemon" else run_bounded([found, "--version"], timeout=60)[1]
    return Tool(name, found, f"{version or 'unknown version'} from PATH; {why}")


def peers(tools: Path) -> Dict[str, Tool]:
    """air, reflex and nodemon, each installed into `tools` when missing (bounded in time)."""
    return {"air": go_tool("air", *AIR, tools), "reflex": go_tool("reflex", *REFLEX, tools, fallback_latest=True),
            "nodemon": nodemon_tool(tools)}


def wrk_version() -> str:
    """`wrk -v` prints its version and exits non-zero."""
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=30, check=False)
    found = re.search(r"wrk (\S+)", done.stdout + done.stderr)
    return found.group(1) if found else "unknown version"


# -- processes ---------------------------------------------------------------------------------------------


def kill_group(proc: subprocess.Popen[Any], first: int = signal.SIGKILL,
               wait: float = 10) -> None:
    """`first` to the process group, then SIGKILL to whatever is left of it; the leader reaped."""
    for sig in dict.fromkeys((first, signal.SIGKILL)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(wait)
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # what it started in its group (the service)
    except ProcessLookupError:
        pass
    try:
        proc.wait(wait)
    except subprocess.TimeoutExpired:
        pass


def clean_env() -> Dict[str, str]:
    """This environment without what a reloader above this bench could have passed down."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("LISTEN_", "NOTIFY_SOCKET", "HOTGO_"))}


class Reloader:
    """A peer (or `go run`) on a copy of the sample, in its own process group; stopped with the whole group."""

    def __init__(self, argv: List[str], project: Path, port: int, timeout: float = 300) -> None:
        self.proc = subprocess.Popen(argv, cwd=project, env=clean_env(), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            self.serving_at = wait_serving(port, timeout, self.proc)  # monotonic
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """SIGINT to its group, then SIGKILL to it, and to every group and process that was below it: air and
        reflex start the service in a process group of its own."""
        below = process_tree(self.proc.pid)[1:]
        groups = set()
        for proc in below:
            with contextlib.suppress(psutil.Error):
                groups.add(os.getpgid(proc.pid))
        kill_group(self.proc, signal.SIGINT)
        for group in groups - {self.proc.pid, os.getpgid(0)}:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
        for proc in below:
            with contextlib.suppress(psutil.Error):
                proc.kill()


# -- probing and timing ------------------------------------------------------------------------------------


def git_repository(root: Path) -> None:
    """One commit, like the project a developer edits (go build stamps VCS info from it)."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
           "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "sample"]):
        subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True, timeout=60)


def timed_build(project: Path, flags: List[str], output: Path, package: str = PACKAGE,
                timeout: float = 300) -> float:
    """`go build FLAGS -o output package`: its wall time in seconds (RuntimeError when it fails)."""
    started = time.monotonic()
    ok, why = run_bounded(["go", "build", *flags, "-o", str(output), package], cwd=project, timeout=timeout)
    took = time.monotonic() - started
    if not ok:
        raise RuntimeError(f"go build {' '.join(flags)} {package} failed in {project}: {why}")
    return took


def probe(port: int) -> Tuple[str, Optional[str]]:
    """('ok', version), ('refused', None) when nothing listens (or the connection is reset), ('other', None)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", "/", headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return ("ok", field_of(body, "version")) if response.status == 200 else ("other", None)
    except (ConnectionRefusedError, ConnectionResetError):
        return "refused", None
    except (OSError, http.client.HTTPException):
        return "other", None
    finally:
        conn.close()


def wait_serving(port: int, timeout: float, proc: Optional[subprocess.Popen[Any]] = None) -> float:
    """Until GET / answers 200 on `port` (fresh connections, every POLL s): monotonic time it did."""
    def answered() -> bool:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode} before serving on :{port}")
        return probe(port)[0] == "ok"

    wait_for(answered, timeout, f"a service on :{port}", step=POLL)
    return time.monotonic()


def save_and_wait(project: Path, port: int, version: str, timeout: float) -> Tuple[float, float]:
    """Write the edit, probe every POLL s until `version` answers: (save → served, seconds refused)."""
    set_version(project, version)
    saved = time.monotonic()
    refused = 0.0
    last = saved
    while True:
        state, seen = probe(port)
        now = time.monotonic()
        if state == "refused":
            refused += now - last
        if seen == version:
            return now - saved, refused
        if now - saved > timeout:
            raise TimeoutError(f"{version} not served on :{port} within {timeout:g}s")
        last = now
        time.sleep(POLL)


class EditLoad:
    """`wrk -t1 -c16` on 127.0.0.1:PORT around one edit: started before it, stopped (SIGINT, so wrk
    prints its counts) after it; bounded by -d all the same."""

    def __init__(self, port: int, max_seconds: float) -> None:
        self.wrk = WrkLoad(port, max_seconds, threads=1, connections=16)

    def __enter__(self) -> EditLoad:
        self.wrk.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wrk.__exit__()

    def stop(self) -> LoadStats:
        return self.wrk.stop()
