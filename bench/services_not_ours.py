"""Services hotgo did not write: readiness, drains seen by real clients, and the output relay.

Three tables, one run (everything on 127.0.0.1, bounded in time):

1. start→ready of a service that never sends READY=1 (tests/fixtures/wild), over N reloads:
   when it takes fd 3, when it binds another port itself, and when it binds the shared port
   itself (socket mode auto lets go of hotgo's socket); how hotgo decided, median and p95.
2. Drains as clients see them: for hotgo's Go helper (samples/api), http.Server.Shutdown(ctx),
   os.Exit, and STOPPING=1 then Shutdown(ctx) as Caddy drains (the wild fixture's -stop modes)
   on SIGTERM, each under wrk (GET, no retries) and Go's http.Client via `hey` (GET and POST),
   16 keep-alive connections, RELOADS reloads each: failed requests in all, next to the
   connections hotgo's drain reports called cut and closed in order; and samples/grpc
   (GracefulStop) under its own gRPC client (cmd/grpcload, 16 connections): failed calls.
3. The cost of relaying a chatty service's output: a service writing LINES_PER_SECOND lines
   of ~100 bytes, hotgo's own CPU while it relays them into a pipe this script reads.

With `--before DIR` (a checkout of an older hotgo, e.g. `git worktree add /tmp/before REV`),
tables 1 and 3 get a row for that hotgo too, run the same way in the same run.

    python bench/services_not_ours.py [--reloads 3] [--before DIR] [--tables 1,2,3]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import REPO, copy_sample, free_port, log, median, ms, own_cpu_seconds, percentile, table, wait_for

CLIENTS = 16
LINES_PER_SECOND = 50_000
RELAY_SECONDS = 10
VERSION_LINE = re.compile(r'const version = "[^"]*"')
READY_LINE = re.compile(r"generation (\d+) ready \(pid \d+, (.*)\) in ([\d.]+)(ms|s)\b")

SPAMMER = """package main

import (
	"bufio"
	"fmt"
	"os"
	"time"
)

const version = "spam"

// Writes %d lines a second, in 1 ms batches, until stopped.
func main() {
	out := bufio.NewWriterSize(os.Stdout, 1<<16)
	perTick := %d / 1000
	n := 0
	for range time.Tick(time.Millisecond) {
		for i := 0; i < perTick; i++ {
			n++
			fmt.Fprintf(out, "%%s request %%09d GET /api/items?page=3 200 0.42ms 10.0.0.1 curl/8.5.0 padding\\n",
				time.Now().Format("15:04:05.000000"), n)
		}
		out.Flush()
	}
}
"""


class Run:
    """One hotgo with JSON logs, its output read by this process as fast as it comes."""

    def __init__(self, args: Sequence[str], cwd: Path, source: Optional[Path] = None) -> None:
        env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
        if source is not None:  # an older checkout of hotgo
            env["PYTHONPATH"] = str(source)
        self.proc = subprocess.Popen([sys.executable, "-m", "hotgo", "run", *args], cwd=cwd, env=env,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.lines: List[str] = []
        self.count = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            self.count += 1
            if raw.startswith(b"{") and b'"output"' in raw[:80]:
                continue  # the service's own lines: counted, not kept
            with self._lock:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))

    def records(self, event: str) -> List[Dict[str, object]]:
        with self._lock:
            found = [json.loads(line) for line in self.lines if line.startswith("{")]
        return [r for r in found if r.get("event") == event]

    def text(self, pattern: str) -> List[re.Match[str]]:
        regex = re.compile(pattern)
        with self._lock:
            return [m for m in (regex.search(line) for line in self.lines) if m]

    def wait(self, event: str, count: int, timeout: float = 120) -> None:
        wait_for(lambda: len(self.records(event)) >= count or self.proc.poll() is not None, timeout,
                 f"{count} {event} events")
        if len(self.records(event)) < count:
            raise RuntimeError("hotgo exited:\n" + "\n".join(self.lines[-20:]))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def set_version(main: Path, version: str) -> None:
    main.write_text(VERSION_LINE.sub(f'const version = "{version}"', main.read_text(), count=1))


def wild_copy(root: Path) -> Path:
    target = root / "wild"
    shutil.copytree(REPO / "tests" / "fixtures" / "wild", target)
    return target


# -- 1. start→ready -------------------------------------------------------------------------------


# How the service gets its port, and the service's flags for it (hotgo always has --listen 127.0.0.1:SHARED).
READY_CASES = (
    ("takes fd 3", lambda shared, other: []),
    ("binds another port itself", lambda shared, other: ["-own", "-addr", f"127.0.0.1:{other}"]),
    ("binds the shared port itself", lambda shared, other: ["-own", "-addr", f"127.0.0.1:{shared}"]),
)


def ready_row(name: str, case: str, root: Path, reloads: int, source: Optional[Path]) -> List[object]:
    project = wild_copy(root)
    shared, other = free_port(), free_port()
    service_args = dict(READY_CASES)[case](shared, other)
    run = Run([".", "--listen", f"127.0.0.1:{shared}", "--log-format", "json", "--", *service_args], project, source)
    try:
        try:
            run.wait("done", 1, timeout=60)
        except (TimeoutError, RuntimeError):
            return [name, case, 0, "-", "-", "never served"]
        for i in range(2, reloads + 2):
            set_version(project / "main.go", f"w{i}")
            run.wait("done", i)
        seconds, hows = [], set()
        for record in run.records("ready")[1:]:  # the reloads: the first start may still learn the service
            match = READY_LINE.search(str(record["message"]))
            if match:
                how = re.sub(r"no READY=1 yet, |\s*\S*:\d+", "", match.group(2)).strip()  # addresses differ
                hows.add("listening on the port" if how == "listening on" else how)
                seconds.append(float(match.group(3)) * (0.001 if match.group(4) == "ms" else 1))
        return [name, case, len(seconds), ms(median(seconds)), ms(percentile(seconds, 95)), "; ".join(sorted(hows))]
    finally:
        run.close()


# -- 2. drains as clients see them ----------------------------------------------------------------

WILD_STOPS = {"Shutdown(ctx)": "shutdown", "os.Exit": "exit", "STOPPING=1 + Shutdown(ctx)": "announce-shutdown"}
DRAIN_SERVICES = ("Go helper", *WILD_STOPS)


def hey_binary() -> Optional[str]:
    return shutil.which("hey") or next((str(p) for p in [Path.home() / "go" / "bin" / "hey"] if p.exists()), None)


def client_command(client: str, port: int, seconds: int) -> List[str]:
    """16 keep-alive connections for at most `seconds`; POSTs get an answer of some status from
    every service here (the helper sample has no POST route: 405), which is not a failure."""
    url = f"http://127.0.0.1:{port}/"
    if client == "wrk GET":
        return ["wrk", "-t1", f"-c{CLIENTS}", f"-d{seconds}s", url]
    hey = hey_binary() or "hey"
    if client == "Go client GET":
        return [hey, "-z", f"{seconds}s", "-c", str(CLIENTS), url]
    return [hey, "-z", f"{seconds}s", "-c", str(CLIENTS), "-m", "POST", "-T", "application/json",
            "-d", '{"item": 42}', url]


def client_failures(client: str, out: str) -> Tuple[int, int]:
    """(failed, total) requests from wrk's or hey's summary."""
    if client.startswith("wrk"):
        total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
        non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        failed = (sum(int(g) for g in errors.groups()) if errors else 0) + (int(non2xx.group(1)) if non2xx else 0)
        return failed, total + failed
    answered = sum(int(n) for n in re.findall(r"\[\d{3}\]\s+(\d+) responses", out))  # any status: it got an answer
    section = out.split("Error distribution:")[1] if "Error distribution:" in out else ""
    failed = sum(int(n) for n in re.findall(r"\[(\d+)\]", section))
    return failed, answered + failed


def drain_row(service: str, client: str, root: Path, reloads: int) -> List[object]:
    port = free_port()
    if service == "Go helper":
        project = copy_sample(root / f"{service}-{client}".replace(" ", "_"))
        run, main = Run(["./cmd/api", "--listen", f"127.0.0.1:{port}", "--log-format", "json"], project), \
            project / "cmd/api/main.go"
    else:
        project = wild_copy(root / re.sub(r"\W+", "_", f"{service}-{client}"))
        stop = WILD_STOPS[service]
        run, main = Run([".", "--listen", f"127.0.0.1:{port}", "--log-format", "json", "--", f"-stop={stop}"],
                        project), project / "main.go"
    try:
        run.wait("done", 1)
        # Long enough for any build; stopped with SIGINT (both then print their summary) after the reloads.
        load = subprocess.Popen(client_command(client, port, 300), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(2)  # the clients' keep-alive connections are open
            for i in range(2, reloads + 2):
                set_version(main, f"v{i}")
                run.wait("done", i)
                time.sleep(1)
        finally:
            load.send_signal(signal.SIGINT)
        out, _ = load.communicate(timeout=60)
        failed, total = client_failures(client, out)
        return [service, client, failed, f"{total:,}", *drain_counts(run)]
    finally:
        run.close()


def drain_counts(run: Run) -> List[object]:
    """Over the reloads: connections open at the stop signal, cut, closed in order (hotgo's `done` events)."""
    done = run.records("done")[1:]
    return [sum(int(d.get(field, 0)) for d in done)  # type: ignore[call-overload]
            for field in ("connections_open", "connections_cut", "connections_closed")]


def grpc_row(root: Path, reloads: int) -> List[object]:
    """samples/grpc under cmd/grpcload with CLIENTS connections: failed calls next to hotgo's counts."""
    project = root / "grpc"
    shutil.copytree(REPO / "samples" / "grpc", project)
    client = root / "grpcload"
    subprocess.run(["go", "build", "-o", str(client), "./cmd/grpcload"], cwd=project, check=True, timeout=600)
    port = free_port()
    run = Run([".", "--listen", f"127.0.0.1:{port}", "--log-format", "json"], project)
    try:
        run.wait("done", 1, timeout=300)
        load = subprocess.Popen([str(client), "-addr", f"127.0.0.1:{port}", "-conns", str(CLIENTS), "-callers",
                                 str(CLIENTS), "-duration", "300s"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            time.sleep(2)
            for i in range(2, reloads + 2):
                set_version(project / "main.go", f"v{i}")
                run.wait("done", i)
                time.sleep(1)
        finally:
            out, _ = load.communicate(input="", timeout=60)  # stdin closed: it stops and prints its summary
        summary = json.loads([line for line in out.splitlines() if '"summary"' in line][-1])["summary"]
        calls = summary["calls"].values()
        ok = sum(n for codes in calls for code, n in codes.items() if code == "OK")
        failed = sum(n for codes in calls for code, n in codes.items() if code != "OK")
        return ["grpc-go GracefulStop", "grpcload (unary calls)", failed, f"{ok + failed:,}", *drain_counts(run)]
    finally:
        run.close()


# -- 3. relay cost --------------------------------------------------------------------------------


def relay_row(name: str, root: Path, source: Optional[Path]) -> List[object]:
    project = root / f"spam-{name.replace(' ', '_')}"
    project.mkdir()
    (project / "go.mod").write_text("module example.com/spam\n\ngo 1.22\n")
    (project / "main.go").write_text(SPAMMER % (LINES_PER_SECOND, LINES_PER_SECOND))
    run = Run([".", "--ready", "delay:100ms", "--log-format", "text"], project, source)
    try:
        wait_for(lambda: run.count > 10_000 or run.proc.poll() is not None, 120, "the service's lines")
        time.sleep(1)
        cpu_before, lines_before, started = own_cpu_seconds(run.proc.pid), run.count, time.monotonic()
        time.sleep(RELAY_SECONDS)
        cpu = own_cpu_seconds(run.proc.pid) - cpu_before
        wall = time.monotonic() - started
        lines = run.count - lines_before
        dropped = sum(int(m.group(1)) for m in run.text(r"dropped (\d+) lines?"))
        return [name, f"{lines / wall:,.0f}", f"{100 * cpu / wall:.1f} %", dropped]
    finally:
        run.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reloads", type=int, default=3)
    parser.add_argument("--ready-reloads", type=int, default=10)
    parser.add_argument("--before", type=Path, help="an older hotgo checkout to compare with")
    parser.add_argument("--tables", default="1,2,3", help="which tables to make, e.g. 1 or 1,3")
    options = parser.parse_args()
    tables = set(options.tables.split(","))
    versions = [("hotgo (this checkout)", None)]
    if options.before is not None:
        versions.append((f"hotgo ({options.before.name})", options.before.resolve()))
    with tempfile.TemporaryDirectory(prefix="hotgo-bench-") as tmp:
        root = Path(tmp)
        if "1" in tables:
            log("1. start→ready of a service that never sends READY=1")
            ready = [ready_row(name, case, root / f"ready{i}-{j}", options.ready_reloads, source)
                     for j, (case, _) in enumerate(READY_CASES) for i, (name, source) in enumerate(versions)]
            print("\n1. start→ready over the reloads, a service that never sends READY=1\n")
            print(table(["hotgo", "the service", "reloads", "median", "p95", "how readiness was decided"], ready))
        if "3" in tables:
            log("3. relay cost")
            relay = [relay_row(name, root, source) for name, source in versions]
            print(f"\n3. relaying {LINES_PER_SECOND:,} lines/s of service output for {RELAY_SECONDS}s\n")
            print(table(["hotgo", "lines/s relayed", "hotgo CPU (one core)", "lines dropped"], relay))
        if "2" in tables:
            log("2. drains as clients see them")
            clients = ["wrk GET", "Go client GET", "Go client POST"]
            if shutil.which("wrk") is None:
                clients.remove("wrk GET")
                log("wrk is not installed: its rows are left out")
            if hey_binary() is None:
                clients = [c for c in clients if not c.startswith("Go client")]
                log("hey is not installed (go install github.com/rakyll/hey@latest): its rows are left out")
            drains = [drain_row(service, client, root, options.reloads)
                      for service in DRAIN_SERVICES for client in clients]
            if shutil.which("go") is not None:
                drains.append(grpc_row(root, options.reloads))
            print(f"\n2. drains under {CLIENTS} keep-alive connections, {options.reloads} reloads each, in all\n")
            print(table(["service stops with", "client", "failed requests", "requests in all", "open at SIGTERM",
                         "cut (hotgo)", "closed in order (hotgo)"], drains))


if __name__ == "__main__":
    main()
