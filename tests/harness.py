"""Test harness: real hotgo processes on real Go code, real sockets on loopback."""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, AnyStr, Dict, Generic, List, Optional, Protocol, Sequence, TypeVar

import psutil

REPO = Path(__file__).resolve().parent.parent
VERSION_LINE = re.compile(r'const version = "[^"]*"')

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)
EveryT = TypeVar("EveryT", bound="Every")
HotgoT = TypeVar("HotgoT", bound="Hotgo")


class Condition(Protocol[T_co]):
    """What wait_for polls: a call without arguments (a lambda binding a loop value as a default is one)."""

    def __call__(self) -> T_co: ...


def wait_for(condition: Condition[T], timeout: float, what: str, step: float = 0.02) -> T:
    """Poll until condition() is truthy and return that value; fail with `what` after the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


class Every:
    """Calls `action` every `interval` s on a thread of its own while in its `with` block;
    bounded all the same: at most `max_seconds` and `max_calls`."""

    def __init__(self, interval: float, action: Condition[object], max_seconds: float = 600,
                 max_calls: int = 1_000_000) -> None:
        self.interval = interval
        self.action = action
        self.calls = 0
        self._max_calls = max_calls
        self._deadline = time.monotonic() + max_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self: EveryT) -> EveryT:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval) and self.calls < self._max_calls \
                and time.monotonic() < self._deadline:
            self.calls += 1
            self.action()


def gone(pid: int) -> bool:
    """The process has exited (a zombie counts); it may vanish between any two looks."""
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def make_tree(base: Path, directories: int, files_per_dir: int, fanout: int = 100) -> None:
    """`directories` directories (two levels, `fanout` wide) with empty files: 100,000 files in ~2s."""
    for i in range(max(1, directories // fanout)):
        top = os.path.join(base, f"d{i:04d}")
        os.makedirs(top)
        for j in range(fanout - 1):
            sub = os.path.join(top, f"e{j:03d}")
            os.mkdir(sub)
            for k in range(files_per_dir):
                os.close(os.open(os.path.join(sub, f"f{k}.txt"), os.O_CREAT | os.O_WRONLY, 0o644))


Record = Dict[str, Any]


def parse_records(text: str) -> List[Record]:
    """The JSON objects of `--log-format json` output (a file's text, or lines joined); other lines skipped."""
    found: List[Record] = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                found.append(json.loads(line))
            except ValueError:
                pass
    return found


def _short(line: str) -> str:
    """A JSON event line as `event [generation] message`; any other line as it is."""
    records = parse_records(line)
    if not records:
        return line
    r = records[0]
    return f"{r.get('event')}{' ' + str(r['generation']) if 'generation' in r else ''}: {r.get('message', '')}"


def matches(record: Record, name: Optional[str], fields: Dict[str, Any]) -> bool:
    """`record` is event `name` (any, if None) and has each of `fields`: equal, or, for a compiled
    regex, a value it finds (str() of the value), or, for a callable, a value it accepts."""
    if name is not None and record.get("event") != name:
        return False
    for key, wanted in fields.items():
        value = record.get(key)
        if isinstance(wanted, re.Pattern):
            if value is None or not wanted.search(str(value)):
                return False
        elif callable(wanted):
            if not wanted(value):
                return False
        elif value != wanted:
            return False
    return True


def event_time(record: Record) -> float:
    """A record's `time` (2026-12-02T14:21:51.307Z) as a Unix timestamp."""
    return datetime.fromisoformat(record["time"].replace("Z", "+00:00")).timestamp()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def copy_sample(tmp: Path, name: str = "api", settings: bool = False) -> Path:
    """Copy samples/<name> into tmp/samples/<name>, no build output. Alone: a sample needs nothing else of
    the repository (samples/api holds its copy of the Go helper, written by `hotgo helper`). Without the
    sample's hotgo.toml unless `settings`: a test starts from the defaults and writes the settings it is
    about."""
    ignore = shutil.ignore_patterns(".hotgo", "bin")
    target = tmp / "samples" / name
    sample_ignore = ignore if settings else shutil.ignore_patterns(".hotgo", "bin", "hotgo.toml")
    shutil.copytree(REPO / "samples" / name, target, ignore=sample_ignore)
    return target


def set_version(project: Path, version: str, main: str = "cmd/api/main.go") -> None:
    path = project / main
    text = path.read_text()
    assert VERSION_LINE.search(text), f"{path} has no version line"
    path.write_text(VERSION_LINE.sub(f'const version = "{version}"', text))


def get(port: int, path: str = "/", timeout: float = 2.0) -> Optional[str]:
    """Body of a 200 answer, or None when nothing (good) answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        body = response.read().decode(errors="replace")
        return body if response.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def field_of(body: Optional[str], key: str) -> Optional[str]:
    if not body:
        return None
    match = re.search(rf"\b{key}=(\S+)", body)
    return match.group(1) if match else None


class OutputLines(Generic[AnyStr]):
    """What a process printed, line by line, as a reader thread of the subclass collects it
    (`lines`, `_lock`, `_reader`, `proc`): count lines and wait for them.

    With `--log-format json` (the default of `Hotgo`), tests read events: `events`, `count_events`,
    `wait_event`, `wait_output` (the service's own lines). `wait_line` and `count` match the raw
    lines: for text output, in the tests whose point is the wording of a message."""

    proc: subprocess.Popen[AnyStr]
    lines: List[str]
    _lock: threading.Lock
    _reader: threading.Thread
    _parsed_lines = 0  # how many of `lines` `records()` has parsed

    def add_line(self, line: str) -> None:
        """Called by the reader thread for each line (the benchmarks also note when it came)."""
        with self._lock:
            self.lines.append(line)

    @property
    def output(self) -> str:
        with self._lock:
            return "\n".join(self.lines)

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        with self._lock:
            return sum(1 for line in self.lines if regex.search(line))

    def records(self) -> List[Record]:
        """Every JSON line so far, parsed once (lines that are not JSON are skipped)."""
        with self._lock:
            if self._parsed_lines == 0:
                self._records: List[Record] = []
            if self._parsed_lines < len(self.lines):
                self._records.extend(parse_records("\n".join(self.lines[self._parsed_lines:])))
                self._parsed_lines = len(self.lines)
            return list(self._records)

    def events(self, name: Optional[str] = None, **fields: Any) -> List[Record]:
        """The events named `name` (all, if None) whose fields match (see `matches`), in order."""
        return [r for r in self.records() if matches(r, name, fields)]

    def count_events(self, name: Optional[str] = None, **fields: Any) -> int:
        return len(self.events(name, **fields))

    def transcript(self) -> str:
        """The output, short, for failure messages: one `event [generation] message` line per JSON
        record, and every other line as it is (a Python warning or a crash is no JSON)."""
        with self._lock:
            lines = list(self.lines)
        return "\n".join(_short(line) for line in lines)

    def wait_event(self, name: Optional[str], timeout: float = 60, occurrences: int = 1, **fields: Any) -> Record:
        """Wait until `occurrences` events named `name` with `fields` were written; the last of them."""
        what = f"{occurrences} x event {name!r} {fields or ''}"
        try:
            wait_for(lambda: self.count_events(name, **fields) >= occurrences or self.proc.poll() is not None,
                     timeout, what)
        except AssertionError:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}:\n{self.transcript()}") from None
        found = self.events(name, **fields)
        if len(found) < occurrences:
            self._reader.join(timeout=5)  # it exited: its last lines may still be in the pipe
            found = self.events(name, **fields)
            if len(found) < occurrences:
                raise AssertionError(f"hotgo exited ({self.proc.returncode}) before {what}:\n{self.transcript()}")
        return found[occurrences - 1]

    def wait_output(self, pattern: str, timeout: float = 60, occurrences: int = 1) -> Record:
        """Wait for a line the service itself wrote (an `output` event) matching `pattern`."""
        return self.wait_event("output", timeout, occurrences, message=re.compile(pattern))

    def output_count(self, pattern: str) -> int:
        """Lines the service itself wrote that match `pattern`."""
        return self.count_events("output", message=re.compile(pattern))

    def wait_line(self, pattern: str, timeout: float = 60, occurrences: int = 1) -> None:
        try:
            wait_for(lambda: self.count(pattern) >= occurrences or self.proc.poll() is not None,
                     timeout, f"{pattern!r} x{occurrences}")
        except AssertionError:
            raise AssertionError(f"no {pattern!r} x{occurrences} in hotgo output:\n{self.output}") from None
        if self.count(pattern) < occurrences:
            self._reader.join(timeout=5)  # it exited: its last lines may still be in the pipe
            if self.count(pattern) < occurrences:
                raise AssertionError(f"hotgo exited ({self.proc.returncode}) before {pattern!r}:\n{self.output}")


class Hotgo(OutputLines[str]):
    """A `hotgo` process whose output is collected line by line.

    `hotgo run` logs JSON events (`--log-format json` is added) unless `log_format="text"`: tests
    assert on events and their fields; only a test whose point is a message's wording reads text."""

    def __init__(self, args: List[str], cwd: Path, env: Optional[Dict[str, str]] = None,
                 prefix: Sequence[str] = (), log_format: str = "json") -> None:
        self.cwd = cwd
        self.json = log_format == "json" and args[:1] == ["run"] and "--log-format" not in args
        if self.json:
            args = [args[0], "--log-format", "json", *args[1:]]
        full_env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "hotgo", *args],  # prefix: e.g. unshare, to run hotgo as PID 1
            cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        self.lines: List[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def __enter__(self: HotgoT) -> HotgoT:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.add_line(line.rstrip("\n"))

    def wait_serving(self, generation_count: int = 1, timeout: float = 120) -> None:
        """Wait until `generation_count` reloads are complete (`done`: the new generation serves)."""
        if self.json:
            self.wait_event("done", timeout, generation_count)
        else:
            self.wait_line(r"generation \d+ serving", timeout, generation_count)

    def service_pids(self) -> List[int]:
        """Live processes below hotgo (its generations and their children)."""
        try:
            return [p.pid for p in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.Error:
            return []

    def interrupt(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        return self.wait_exit(timeout, f"{sig!r}")

    def wait_exit(self, timeout: float, after: str) -> int:
        """hotgo's exit code, once it exits (a failure naming `after` if it does not within `timeout`)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"hotgo did not exit after {after}:\n{self.output}") from None
        self._reader.join(timeout=5)  # its last lines may still be in the pipe: `output` must have them
        return code

    def close(self) -> None:
        """Always called: leave nothing running, whatever the test did."""
        kill_tree(self.proc.pid)
        self.proc.wait(10)
        self._reader.join(timeout=5)


def process_tree(pid: int) -> List[psutil.Process]:
    """A process and everything below it, the process first; empty once it is gone."""
    try:
        parent = psutil.Process(pid)
        return [parent, *parent.children(recursive=True)]
    except psutil.Error:
        return []


def kill_tree(pid: int) -> None:
    """Kill a process, then everything that was below it. The tree is listed first and the parent
    killed first: a supervisor must not live to restart a child it sees die."""
    for proc in process_tree(pid):
        try:
            proc.kill()
        except psutil.Error:
            pass


def kill_processes_under(directory: Path) -> None:
    """Safety net: any process whose executable lives under `directory`."""
    for proc in psutil.process_iter(["exe", "pid"]):
        exe = proc.info.get("exe") or ""
        if exe.startswith(str(directory)):
            try:
                proc.kill()
            except psutil.Error:
                pass


@dataclass
class LoadResult:
    ok: int = 0
    failures: List[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    versions: Counter[Optional[str]] = field(default_factory=Counter)


class Load:
    """Keep-alive HTTP clients hammering one loopback port, bounded in time and count."""

    def __init__(self, port: int, clients: int, max_seconds: float = 120, max_requests: int = 2_000_000) -> None:
        self.port = port
        self.result = LoadResult()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._deadline = time.monotonic() + max_seconds
        self._budget = max_requests // clients
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait_seen(self, version: str, timeout: float = 10) -> None:
        """Wait until the load's own clients have been answered by `version` (not just a probe)."""
        def seen() -> bool:
            with self._lock:
                return self.result.versions[version] > 0
        wait_for(seen, timeout, f"the load clients to be answered by {version}")

    def stop(self) -> LoadResult:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        return self.result

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = 0
        while not self._stop.is_set() and sent < self._budget and time.monotonic() < self._deadline:
            sent += 1
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                body = response.read().decode()
            except (OSError, http.client.HTTPException) as err:
                with self._lock:
                    self.result.failures.append(f"{type(err).__name__}: {err}")
                conn.close()
                continue
            with self._lock:
                self.result.statuses[response.status] += 1
                if response.status == 200:
                    self.result.ok += 1
                    self.result.versions[field_of(body, "version")] += 1
        conn.close()


def build_load_client(go: str, directory: Path) -> Path:
    """tests/fixtures/loadclient, built into `directory`."""
    binary = directory / "loadclient"
    built = subprocess.run([go, "build", "-o", str(binary), "."], cwd=REPO / "tests" / "fixtures" / "loadclient",
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    return binary


def load_client_service(address: str, helper: Optional[str] = None) -> str:
    """The Go `main.go` the load client expects: GET / and POST / (POSTs counted) answering
    `version=v1 …`. Served by net/http's ListenAndServe, or with `helper` (the Go helper's import
    path) by the helper's, which takes the shared socket and drains on SIGTERM."""
    imports = ["fmt", "io", "log", "net/http", "sync/atomic"]
    serve = f'if err := http.ListenAndServe("{address}", mux); err != nil {{'
    if helper:
        imports = ["errors", *imports, "", helper]
        serve = (f'if err := hotgo.ListenAndServe("{address}", mux); err != nil '
                 "&& !errors.Is(err, http.ErrServerClosed) {")
    imported = "\n".join(f'\t"{name}"' if name else "" for name in imports)
    return f"""package main

import (
{imported}
)

const version = "v1"

func main() {{
\tvar posted atomic.Int64
\tmux := http.NewServeMux()
\tmux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {{
\t\tfmt.Fprintf(w, "version=%s\\n", version)
\t}})
\tmux.HandleFunc("POST /", func(w http.ResponseWriter, r *http.Request) {{
\t\tbody, err := io.ReadAll(r.Body)
\t\tif err != nil {{
\t\t\thttp.Error(w, err.Error(), http.StatusBadRequest)
\t\t\treturn
\t\t}}
\t\tfmt.Fprintf(w, "version=%s posted=%d bytes=%d\\n", version, posted.Add(1), len(body))
\t}})
\t{serve}
\t\tlog.Fatal(err)
\t}}
}}
"""


class LoadClient:
    """tests/fixtures/loadclient running (keep-alive GET and POST, nothing retried): the versions it has
    been answered by, its summary at the end. Bounded: 240 s at most; `close` kills it whatever happened."""

    def __init__(self, binary: Path, port: int, clients: int = 8) -> None:
        self.proc = subprocess.Popen([str(binary), "-url", f"http://127.0.0.1:{port}/", "-c", str(clients),
                                      "-max-seconds", "240"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.records: List[Dict[str, object]] = []
        self.other: List[str] = []
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._lock:
                if line.startswith("{"):
                    self.records.append(json.loads(line))
                else:
                    self.other.append(line)

    def versions(self) -> List[object]:
        with self._lock:
            return [r["version"] for r in self.records if "version" in r]

    def wait_seen(self, version: str, timeout: float = 30) -> None:
        wait_for(lambda: version in self.versions() or self.proc.poll() is not None, timeout,
                 f"the load client to be answered by {version}")
        assert version in self.versions(), (self.records, self.other)

    def finish(self) -> Dict[str, object]:
        """Close its stdin (it stops), wait for its summary line."""
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(30)
        self._reader.join(timeout=5)
        with self._lock:
            summaries = [r for r in self.records if "requests" in r]
        assert self.proc.returncode == 0 and len(summaries) == 1, (self.proc.returncode, self.other)
        return summaries[0]

    def close(self) -> None:
        kill_tree(self.proc.pid)
        self.proc.wait(10)


# A service that says READY=1 and then exits with code 7 (crash restarts, crash loops).
CRASHES_AFTER_READY = '''package main

import (
	"net"
	"os"
	"time"
)

const version = "flaky"

func main() {
	if c, err := net.Dial("unixgram", os.Getenv("NOTIFY_SOCKET")); err == nil {
		c.Write([]byte("READY=1"))
		c.Close()
	}
	time.Sleep(100 * time.Millisecond)
	os.Exit(7)
}
'''
