"""Shared helpers for the hotgo benchmarks: sample copies, processes, probes, load, tables.

Everything runs on 127.0.0.1 and is bounded in time (and request count): nothing here runs forever.
"""

from __future__ import annotations

import http.client
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import psutil

# The test harness's HTTP helpers serve the benchmarks too (one copy of each).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
import harness
from harness import field_of, get
from harness import wait_for as harness_wait_for

REPO = Path(__file__).resolve().parent.parent
SAMPLE = "api"
PACKAGE = "./cmd/api"
MAIN_GO = "cmd/api/main.go"
VERSION_LINE = re.compile(r'const version = "[^"]*"')
SUMMARY_LINE = re.compile(r"generation (\d+) serving\b(.*)$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s)\b")


def log(message: str) -> None:
    """Progress goes to stderr so stdout carries only the result table."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- waiting, numbers, tables ------------------------------------------------------------------


def wait_for(condition: Callable[[], object], timeout: float, what: str, step: float = 0.01) -> object:
    """The harness's wait, with TimeoutError (a benchmark reports it; a test fails on it)."""
    try:
        return harness_wait_for(condition, timeout, what, step)
    except AssertionError as err:
        raise TimeoutError(str(err)) from None


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (p95 of 20 values is the 19th smallest)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def ms(seconds: float) -> str:
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.0f} ms"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A markdown table with padded columns (readable as plain text too)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


# -- the sample project ------------------------------------------------------------------------


def sample_main() -> Path:
    return REPO / "samples" / SAMPLE / MAIN_GO


def wait_for_sample(timeout: float = 1200, step: float = 30) -> None:
    """The sample may still be being written: poll for it (every 30 s, up to 20 min by default)."""
    path = sample_main()
    deadline = time.monotonic() + timeout
    while not (path.exists() and VERSION_LINE.search(path.read_text(errors="replace"))):
        if time.monotonic() > deadline:
            raise SystemExit(f"{path} (with a `const version = ...` line) did not appear within {timeout:g}s")
        log(f"waiting for {path} ...")
        time.sleep(step)


def copy_sample(root: Path) -> Path:
    """samples/api/ under root (it holds its copy of the Go helper: nothing else is needed)."""
    return harness.copy_sample(root, SAMPLE)


def set_version(project: Path, version: str) -> None:
    harness.set_version(project, version, MAIN_GO)


def go_build(project: Path, output: Path) -> float:
    """`go build -o output ./cmd/api`; returns its wall time in seconds."""
    started = time.monotonic()
    done = subprocess.run(["go", "build", "-o", str(output), PACKAGE], cwd=project,
                          capture_output=True, text=True, timeout=300, check=False)
    took = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"go build failed in {project}:\n{done.stderr}")
    return took


def go_version() -> str:
    done = subprocess.run(["go", "version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


free_port = harness.free_port


# -- HTTP ----------------------------------------------------------------------------------------


def served_version(port: int) -> Optional[str]:
    return field_of(get(port), "version")


def wait_version(port: int, version: str, timeout: float = 60, step: float = 0.002) -> float:
    """Poll GET / (fresh connection) every `step` s until it serves `version`; returns monotonic time seen."""
    deadline = time.monotonic() + timeout
    while True:
        if served_version(port) == version:
            return time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"version {version} not served on :{port} within {timeout:g}s")
        time.sleep(step)


# -- processes -----------------------------------------------------------------------------------


class Hotgo(harness.Hotgo):
    """`python -m hotgo run ./cmd/api --listen 127.0.0.1:PORT ...`, noting when each line was read."""

    def __init__(self, project: Path, port: int, *extra: str) -> None:
        self.times: List[float] = []  # monotonic time each line was read; before the reader starts
        super().__init__(["run", PACKAGE, "--listen", f"127.0.0.1:{port}", *extra], project,
                         env={"PYTHONIOENCODING": "utf-8"}, log_format="text")  # parses the summary lines

    def add_line(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)
            self.times.append(time.monotonic())

    def output_lines(self) -> List[str]:
        with self._lock:
            return list(self.lines)

    def time_of(self, pattern: str) -> Optional[float]:
        """When the last line matching `pattern` was read, or None."""
        regex = re.compile(pattern)
        with self._lock:
            for when, line in zip(reversed(self.times), reversed(self.lines)):
                if regex.search(line):
                    return when
        return None

    def summaries(self) -> Dict[int, Dict[str, float]]:
        """Parsed `generation N serving · ...` lines, by generation number."""
        found = {}
        for line in self.output_lines():
            parsed = parse_summary(line)
            if parsed is not None:
                found[int(parsed["generation"])] = parsed
        return found

    def wait_summary(self, generation: int, timeout: float = 60) -> Dict[str, float]:
        def check() -> Optional[Dict[str, float]]:
            if self.proc.poll() is not None:
                raise RuntimeError("hotgo exited:\n" + "\n".join(self.output_lines()[-30:]))
            return self.summaries().get(generation)

        try:
            return wait_for(check, timeout, f"hotgo summary of generation {generation}")  # type: ignore[return-value]
        except TimeoutError:
            raise TimeoutError(f"no summary line for generation {generation}; hotgo output:\n"
                               + "\n".join(self.output_lines()[-30:])) from None

    def latest_generation(self) -> int:
        return max(self.summaries(), default=0)

    def close(self) -> None:
        """A drain first (SIGINT), so the numbers include a clean stop; then nothing left running."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                pass
        super().close()


def parse_summary(line: str) -> Optional[Dict[str, float]]:
    """`generation 3 serving · change→serving 604ms · settle 50ms · build 542ms · start→ready 9ms · drain ...`"""
    match = SUMMARY_LINE.search(line)
    if not match:
        return None
    parsed: Dict[str, float] = {"generation": float(match.group(1))}
    for part in match.group(2).split("·"):
        part = part.strip()
        duration = _DURATION.search(part)
        if not part or not duration:
            continue
        seconds = float(duration.group(1)) * (0.001 if duration.group(2) == "ms" else 1.0)
        key = part.split()[0]
        parsed["drain" if key == "drain" else key] = seconds
    return parsed


class Service:
    """The sample binary run directly: `bin -addr 127.0.0.1:PORT` (no hotgo)."""

    def __init__(self, binary: Path, port: int, cwd: Path) -> None:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("LISTEN_", "NOTIFY_SOCKET", "HOTGO_"))}
        self.proc = subprocess.Popen([str(binary), "-addr", f"127.0.0.1:{port}"], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)

    def stop(self, timeout: float = 15) -> None:
        """SIGTERM, then wait for the exit (SIGKILL after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


# -- availability prober ---------------------------------------------------------------------------


class Prober:
    """A fresh-connection GET / every `interval` s; sums the time during which probes failed.

    A failed stretch runs from the start of its first failed probe to the start of the next
    successful probe (or to the end of probing).
    """

    def __init__(self, port: int, interval: float = 0.005, timeout: float = 2.0, max_seconds: float = 3600) -> None:
        self.port = port
        self.interval = interval
        self.timeout = timeout
        self.max_seconds = max_seconds
        self.probes = 0
        self.failures: List[float] = []  # monotonic start times of failed probes
        self.failure_ends: List[float] = []  # when each failed probe got its error (for attribution)
        self.outages: List[Tuple[float, float]] = []  # (start, end)
        self._down_since: Optional[float] = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Prober:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _probe(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=self.timeout) as sock:
                sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                data = b""
                while True:
                    chunk = sock.recv(4096)
                    if not chunk:
                        break
                    data += chunk
            return data.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
        except OSError:
            return False

    def _run(self) -> None:
        deadline = time.monotonic() + self.max_seconds
        next_at = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            ok = self._probe()
            self.probes += 1
            if ok:
                if self._down_since is not None:
                    self.outages.append((self._down_since, started))
                    self._down_since = None
            else:
                self.failures.append(started)
                self.failure_ends.append(time.monotonic())
                if self._down_since is None:
                    self._down_since = started
            next_at += self.interval
            pause = next_at - time.monotonic()
            if pause > 0:
                self._stop.wait(pause)
            else:
                next_at = time.monotonic()
        if self._down_since is not None:
            self.outages.append((self._down_since, time.monotonic()))
            self._down_since = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def downtime(self) -> float:
        return sum(end - start for start, end in self.outages)


# -- load generators ---------------------------------------------------------------------------------


@dataclass
class LoadStats:
    tool: str
    requests: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    connect: int = 0
    read: int = 0
    write: int = 0
    timeout: int = 0
    non2xx: int = 0
    failure_times: List[float] = field(default_factory=list)  # python client only
    raw: str = ""

    @property
    def socket_errors(self) -> int:
        return self.connect + self.read + self.write + self.timeout

    @property
    def failed(self) -> int:
        return self.socket_errors + self.non2xx

    def detail(self) -> str:
        parts = [f"connect {self.connect}", f"read {self.read}", f"write {self.write}",
                 f"timeout {self.timeout}", f"non-2xx {self.non2xx}"]
        return ", ".join(parts)


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


class WrkLoad:
    """`wrk -t2 -c32 -d<max>s --latency URL`, stopped early with SIGINT (wrk then prints its summary)."""

    def __init__(self, port: int, max_seconds: float, threads: int = 2, connections: int = 32,
                 cpus: Optional[Sequence[int]] = None) -> None:
        self.cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, math.ceil(max_seconds))}s",
                    "--latency", f"http://127.0.0.1:{port}/"]
        self.cpus = cpus
        self.proc: Optional[subprocess.Popen[str]] = None

    def __enter__(self) -> WrkLoad:
        cpus = self.cpus
        pin = (lambda: os.sched_setaffinity(0, cpus)) if cpus else None  # before exec: all its threads
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, preexec_fn=pin)
        time.sleep(0.2)  # let wrk open its connections
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> LoadStats:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        try:
            out, _ = self.proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, _ = self.proc.communicate()
        return parse_wrk(out)

    def wait(self) -> LoadStats:
        """Let wrk run for its whole -d duration."""
        assert self.proc is not None
        out, _ = self.proc.communicate()
        return parse_wrk(out)


def parse_wrk(out: str) -> LoadStats:
    stats = LoadStats(tool="wrk", raw=out)
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)\b", out)
    if not done:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    stats.requests = int(done.group(1))
    stats.seconds = float(done.group(2)) * {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if errors:
        stats.connect, stats.read, stats.write, stats.timeout = (int(g) for g in errors.groups())
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        stats.non2xx = int(non2xx.group(1))
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    stats.rps = float(rps.group(1)) if rps else (stats.requests / stats.seconds if stats.seconds else 0.0)
    return stats


class PythonLoad:
    """Fallback load: `clients` threads, each a keep-alive HTTP/1.1 client, bounded in time and count.

    A failed request (connect/read error, timeout or non-2xx) is counted, the connection is dropped
    and the client reconnects after 1 ms (so that a refused port is not hammered in a busy loop).
    """

    def __init__(self, port: int, max_seconds: float, clients: int = 32, max_requests: int = 5_000_000) -> None:
        self.port = port
        self.max_seconds = max_seconds
        self.stats = LoadStats(tool="python")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._budget = max(1, max_requests // clients)
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]
        self._started = 0.0

    def __enter__(self) -> PythonLoad:
        self._started = time.monotonic()
        self._deadline = self._started + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _fail(self, kind: str) -> None:
        with self._lock:
            setattr(self.stats, kind, getattr(self.stats, kind) + 1)
            self.stats.failure_times.append(time.monotonic())

    def _client(self) -> None:
        conn: Optional[http.client.HTTPConnection] = None
        sent = 0
        while not self._stop.is_set() and sent < self._budget and time.monotonic() < self._deadline:
            sent += 1
            fresh = conn is None or conn.sock is None
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2.0)
            try:
                if fresh:
                    conn.connect()
            except OSError:
                self._fail("connect")
                conn.close()
                conn = None
                time.sleep(0.001)
                continue
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                response.read()
            except socket.timeout:
                self._fail("timeout")
                conn.close()
                conn = None
                continue
            except (OSError, http.client.HTTPException):
                self._fail("read")
                conn.close()
                conn = None
                time.sleep(0.001)
                continue
            with self._lock:
                self.stats.requests += 1
            if not 200 <= response.status < 400:
                self._fail("non2xx")
        if conn is not None:
            conn.close()

    def stop(self) -> LoadStats:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.stats.seconds = time.monotonic() - self._started
        self.stats.rps = self.stats.requests / self.stats.seconds if self.stats.seconds else 0.0
        return self.stats

    def wait(self) -> LoadStats:
        for thread in self._threads:
            thread.join(timeout=self.max_seconds + 15)
        return self.stop()


def make_load(tool: str, port: int, max_seconds: float, cpus: Optional[Sequence[int]] = None) -> WrkLoad | PythonLoad:
    """The load generator; `cpus` pins wrk (the Python fallback runs in this process and is not pinned)."""
    return WrkLoad(port, max_seconds, cpus=cpus) if tool == "wrk" else PythonLoad(port, max_seconds)


# -- CPU placement and accounting -------------------------------------------------------------------


def can_pin() -> bool:
    return hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2


def pin_tree(pid: int, cpus: Sequence[int]) -> None:
    """Pin a process and everything below it to `cpus` (new children inherit it)."""
    for proc in harness.process_tree(pid):
        try:
            proc.cpu_affinity(list(cpus))
        except psutil.Error:
            pass


def own_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process, not of its children."""
    try:
        times = psutil.Process(pid).cpu_times()
    except psutil.Error:
        return 0.0
    return float(times.user + times.system)


# -- CPU used by processes outside this benchmark --------------------------------------------------


def _ours_and_kernel_seconds() -> float:
    """CPU seconds of this process tree (live or reaped) plus those of kernel threads."""
    me = psutil.Process()
    procs = [me]
    try:
        procs += me.children(recursive=True)
    except psutil.Error:
        pass
    ours = {p.pid for p in procs}
    total = 0.0
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system + times.children_user + times.children_system
    for proc in psutil.process_iter(["pid", "ppid", "cpu_times"]):
        info = proc.info
        if info["pid"] not in ours and (info["pid"] == 2 or info.get("ppid") == 2) and info.get("cpu_times"):
            total += info["cpu_times"].user + info["cpu_times"].system
    return total


def _busy_seconds() -> float:
    times = psutil.cpu_times()
    return float(times.user + times.nice + times.system)  # irq/softirq time is nobody's in particular


class ForeignCpu:
    """Share of the machine's CPU capacity used by processes that are not part of this benchmark.

    Machine-wide user+system time minus that of this process tree and of kernel threads (the loopback
    networking of the benchmark itself partly runs in them). A noisy neighbour (another build, a test
    run) makes throughput figures meaningless; this says so.
    """

    def __init__(self) -> None:
        self.started = time.monotonic()
        self.busy = _busy_seconds()
        self.ours = _ours_and_kernel_seconds()

    def share(self) -> float:
        wall = time.monotonic() - self.started
        used = (_busy_seconds() - self.busy) - (_ours_and_kernel_seconds() - self.ours)
        capacity = wall * (os.cpu_count() or 1)
        return min(1.0, max(0.0, used / capacity)) if capacity > 0 else 0.0
