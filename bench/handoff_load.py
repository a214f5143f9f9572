"""Reloads under load: failed requests and time without service, hotgo against kill-then-start.

samples/api is run under a load generator (wrk -t2 -c32 if it is on PATH, else 32 Python keep-alive
clients) while a separate prober makes a fresh-connection GET / every 5 ms. Rows, all in one run:

* bare service            the built binary run directly (`-addr`), no hotgo, no reloads: the baseline;
* hotgo inherit idle      hotgo running the service, no reloads: hotgo's throughput tax;
* hotgo inherit           N reloads, each a real edit of the version line, one after the other
                          (the next edit once the new version is served and the old process is gone);
* hotgo reuseport         the same with --socket reuseport;
* kill-then-start         what air / CompileDaemon / nodemon do: go build, SIGTERM the old process,
                          wait for its exit, start the new binary, which binds the port itself.

Bare and idle are measured in alternating rounds of --baseline-seconds each, wrk on its own CPU and
the service side (bare service, or hotgo and its service) on the others; the tax is the median of the
idle/bare ratios of each pair. A pair disturbed by other processes (> 5 % of the CPU, user-space
processes outside this benchmark) is measured again. A column shows that share for every row:
throughput figures need a quiet machine. As the throughput of this shared machine still varies by
±10 % between rounds, the CPU time of the hotgo process itself during the idle rounds is printed too:
the most it can take from the service.

    python bench/handoff_load.py [--reloads 100] [--rounds 5] [--load auto|wrk|python] [--no-pin]
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ForeignCpu,
    Hotgo,
    LoadStats,
    Prober,
    Service,
    can_pin,
    copy_sample,
    free_port,
    go_build,
    go_version,
    log,
    make_load,
    median,
    ms,
    own_cpu_seconds,
    pin_tree,
    served_version,
    set_version,
    table,
    wait_for,
    wait_for_sample,
    wait_version,
    wrk_available,
)


@dataclass
class Reload:
    edited: float  # version line written
    seen: float = 0.0  # first GET / answering the new version (polled every 5 ms)
    ready: float = 0.0  # hotgo: "generation N ready" line read (the drain of the old one starts)
    done: float = 0.0  # hotgo: summary line read (old generation gone); kill-then-start: = seen
    stopped: float = 0.0  # kill-then-start: build done, SIGTERM sent to the old process
    build: float = math.nan  # seconds `go build` took (hotgo: as it reports them)


@dataclass
class Row:
    name: str
    reloads: int = 0
    load: Optional[LoadStats] = None
    seconds: float = 0.0
    rps: float = 0.0
    failed: int = 0
    downtime: float = 0.0
    failed_probes: int = 0
    probes: int = 0
    edit_to_served: List[float] = field(default_factory=list)
    builds: List[float] = field(default_factory=list)  # go build seconds per reload
    phases: Dict[str, int] = field(default_factory=dict)
    details: List[str] = field(default_factory=list)
    round_rps: List[float] = field(default_factory=list)
    foreign: float = 0.0  # share of the machine's CPU used by other processes during the row
    own_cpu: float = 0.0  # CPU seconds used by the hotgo process itself (idle row), all kept rounds


def current_reload(when: float, reloads: List[Reload]) -> Tuple[int, Optional[Reload]]:
    found: Tuple[int, Optional[Reload]] = (0, None)
    for number, item in enumerate(reloads, 1):
        if item.edited <= when:
            found = (number, item)
    return found


def phase_of(when: float, reloads: List[Reload]) -> str:
    """Which part of the reload cycle a failure at `when` fell into."""
    _, current = current_reload(when, reloads)
    if current is None:
        return "before the first edit"
    if current.stopped:  # kill-then-start
        if when < current.stopped:
            return "edit → build done (old still serving)"
        if when < current.seen:
            return "SIGTERM → new version served"
        return "after the new version was served"
    if when < current.ready:
        return "edit → new generation READY (build, start)"
    if when <= current.done:
        return "READY → old generation gone (handoff, drain)"
    return "after the old generation was gone"


def where(when: float, reloads: List[Reload]) -> str:
    number, current = current_reload(when, reloads)
    if current is None:
        return "before the first edit"
    anchor, name = (current.ready, "READY") if current.ready else (current.stopped, "SIGTERM")
    if not anchor:
        return f"reload {number}, edit{(when - current.edited) * 1000:+.0f} ms"
    return f"reload {number}, {name}{(when - anchor) * 1000:+.0f} ms"


def count_phases(times: List[float], reloads: List[Reload]) -> Dict[str, int]:
    counts: Dict[str, int] = {}
    for when in times:
        phase = phase_of(when, reloads)
        counts[phase] = counts.get(phase, 0) + 1
    return counts


def finish_row(row: Row, stats: LoadStats, prober: Prober, reloads: List[Reload], cpu: ForeignCpu) -> Row:
    row.foreign = cpu.share()
    row.load = stats
    row.seconds = stats.seconds
    row.rps = stats.rps
    row.failed = stats.failed
    row.downtime = prober.downtime
    row.failed_probes = len(prober.failures)
    row.probes = prober.probes
    row.reloads = len(reloads)
    row.edit_to_served = [r.seen - r.edited for r in reloads]
    row.builds = [r.build for r in reloads if not math.isnan(r.build)]
    if prober.failures:
        row.phases = count_phases(prober.failure_ends, reloads)
        row.details.append(f"failed probes by phase (of the moment each got its error): {row.phases}")
        if any(r.ready for r in reloads):
            shown = "; ".join(where(t, reloads) for t in prober.failure_ends[:10])
            more = f" (+{len(prober.failures) - 10} more)" if len(prober.failures) > 10 else ""
            row.details.append(f"failed probes at: {shown}{more}")
    if stats.failed:
        row.details.append(f"load generator errors: {stats.detail()}")
        if stats.failure_times:
            row.details.append(f"load failures by phase: {count_phases(stats.failure_times, reloads)}")
    if prober.outages:
        longest = max(end - start for start, end in prober.outages)
        row.details.append(f"{len(prober.outages)} outage(s), longest {ms(longest)}")
    return row


NOISY = 0.05  # other processes using more than this share of the CPU disturb a throughput figure


def cpu_split(pin: bool) -> Tuple[Optional[List[int]], Optional[List[int]]]:
    """(service CPUs, load CPUs): the load generator on the last CPU, the service side on the others."""
    if not pin:
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[:-1], cpus[-1:]


def baseline(tool: str, servers: Dict[str, Tuple[int, int]], seconds: float, rounds: int,
             pin: bool) -> Tuple[Row, Row]:
    """Alternate bare / hotgo-idle load rounds; the rows carry the median req/s and the summed errors.

    `servers` maps "bare" and "idle" to (port, pid of the bare service / of hotgo). With `pin`, the
    load generator gets its own CPU and the service side (service, hotgo and its children) the others:
    then hotgo competes with the service for the same CPUs and the rounds vary far less.
    A pair of rounds during which other processes used more than NOISY of the CPU is measured again
    (at most `rounds` extra pairs); if too few quiet pairs remain, all pairs are used.
    """
    rows = {"bare": Row("bare service (no hotgo, no reloads)"), "idle": Row("hotgo inherit idle (no reloads)")}
    pairs: List[Dict[str, Tuple[LoadStats, Prober, float, float]]] = []
    server_cpus, load_cpus = cpu_split(pin)
    attempt = 0
    while sum(1 for p in pairs if max(p[k][2] for k in p) <= NOISY) < rounds and attempt < 2 * rounds:
        attempt += 1
        pair: Dict[str, Tuple[LoadStats, Prober, float, float]] = {}
        for key, (port, pid) in servers.items():
            log(f"baseline pair {attempt}: {key} on :{port} for {seconds:g}s ({tool})")
            if server_cpus:
                pin_tree(pid, server_cpus)
            cpu = ForeignCpu()
            own_before = own_cpu_seconds(pid)
            with Prober(port, max_seconds=seconds + 30) as prober, \
                    make_load(tool, port, seconds, load_cpus) as load:
                stats = load.wait()
            pair[key] = (stats, prober, cpu.share(), own_cpu_seconds(pid) - own_before)
            log(f"  {stats.rps:.0f} req/s, failed {stats.failed}, probe failures {len(prober.failures)}, "
                f"other processes' CPU {pair[key][2] * 100:.0f} %")
        pairs.append(pair)
    quiet = [p for p in pairs if max(p[k][2] for k in p) <= NOISY]
    kept = quiet if len(quiet) >= rounds else pairs
    for key, row in rows.items():
        row.seconds = sum(p[key][0].seconds for p in pairs)
        row.foreign = sum(p[key][2] for p in kept) / len(kept)
        row.round_rps = [p[key][0].rps for p in kept]
        row.rps = median(row.round_rps)
        row.own_cpu = sum(p[key][3] for p in kept)
        row.failed = sum(p[key][0].failed for p in pairs)
        row.downtime = sum(p[key][1].downtime for p in pairs)
        row.failed_probes = sum(len(p[key][1].failures) for p in pairs)
        row.probes = sum(p[key][1].probes for p in pairs)
        row.details.append("req/s per round: " + ", ".join(f"{rps:.0f}" for rps in row.round_rps))
        if row.failed:
            row.details.append("load generator errors: "
                               + "; ".join(p[key][0].detail() for p in pairs if p[key][0].failed))
    if len(quiet) < len(pairs):
        rows["bare"].details.append(f"{len(pairs) - len(quiet)} of {len(pairs)} bare/idle pairs disturbed by other "
                                    f"processes (> {NOISY * 100:.0f} % CPU); "
                                    + ("dropped" if kept is quiet else "kept: too few quiet pairs"))
    return rows["bare"], rows["idle"]


def hotgo_reloads(tool: str, project: Path, mode: str, count: int, nonce: str, timeout: float) -> Row:
    port = free_port()
    extra = ["--socket", "reuseport"] if mode == "reuseport" else []
    log(f"hotgo {mode}: starting on 127.0.0.1:{port}")
    hotgo = Hotgo(project, port, *extra)
    try:
        hotgo.wait_summary(hotgo.latest_generation() + 1, timeout=300)
        wait_for(lambda: served_version(port), 30, f"service on :{port}")

        def reload(i: int) -> Reload:
            version = f"{mode}-{nonce}-{i}"
            before = hotgo.latest_generation()
            set_version(project, version)
            item = Reload(edited=time.monotonic())
            item.seen = wait_version(port, version, timeout=timeout, step=0.005)
            hotgo.wait_summary(before + 1, timeout=timeout)
            generation = hotgo.latest_generation()
            item.ready = hotgo.time_of(rf"generation {generation} ready\b") or item.seen
            item.done = hotgo.time_of(rf"generation {generation} serving\b") or time.monotonic()
            item.build = built_seconds(hotgo.output_lines(), generation)
            return item

        row, _ = reloads_under_load(Row(f"hotgo {mode}"), mode, tool, port, count, reload)
        crashes = [line for line in hotgo.output_lines() if "error" in line.lower() or "warn" in line.lower()]
        if crashes:
            row.details.append(f"hotgo warnings/errors ({len(crashes)}), first: {crashes[0]}")
        return row
    finally:
        hotgo.close()


def reloads_under_load(row: Row, label: str, tool: str, port: int, count: int,
                       reload: Callable[[int], Reload]) -> Tuple[Row, List[Reload]]:
    """`count` reloads (each by `reload(i)`) under load and the availability prober; the row filled in."""
    budget = 60 + count * 30
    reloads: List[Reload] = []
    cpu = ForeignCpu()
    with Prober(port, max_seconds=budget) as prober, make_load(tool, port, budget) as load:
        for i in range(1, count + 1):
            reloads.append(reload(i))
            if i % 10 == 0 or i == count:
                log(f"  {label}: {i}/{count} reloads, failed probes so far {len(prober.failures)}")
        stats = load.stop()
    return finish_row(row, stats, prober, reloads, cpu), reloads


def built_seconds(lines: List[str], generation: int) -> float:
    pattern = re.compile(rf"built generation {generation} in ([\d.]+)s")
    for line in reversed(lines):
        found = pattern.search(line)
        if found:
            return float(found.group(1))
    return math.nan


def kill_then_start(tool: str, project: Path, bin_dir: Path, count: int, nonce: str, timeout: float) -> Row:
    """On each edit: go build; SIGTERM the old process; wait for its exit; start the new binary on -addr."""
    port = free_port()
    version = f"kill-{nonce}-0"
    set_version(project, version)
    binary = bin_dir / "api-kill-0"
    go_build(project, binary)
    service = Service(binary, port, project)
    try:
        wait_version(port, version, timeout=30, step=0.01)

        def reload(i: int) -> Reload:
            nonlocal service
            version = f"kill-{nonce}-{i}"
            set_version(project, version)
            item = Reload(edited=time.monotonic())
            binary = bin_dir / f"api-kill-{i}"
            item.build = go_build(project, binary)
            item.stopped = time.monotonic()
            service.stop()
            service = Service(binary, port, project)
            item.seen = wait_version(port, version, timeout=timeout, step=0.005)
            item.done = item.seen
            (bin_dir / f"api-kill-{i - 1}").unlink(missing_ok=True)
            return item

        row, reloads = reloads_under_load(Row("kill-then-start (air/CompileDaemon/nodemon way)"), "kill-then-start",
                                          tool, port, count, reload)
        gaps = [r.seen - r.stopped for r in reloads]
        row.details.append(f"SIGTERM → new version served: median {ms(median(gaps))}, max {ms(max(gaps))}")
        return row
    finally:
        service.stop(timeout=5)
        service.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Reloads of samples/api under HTTP load: hotgo (inherit, reuseport) against kill-then-start.")
    parser.add_argument("--reloads", type=int, default=100, metavar="N",
                        help="reloads per reloading row (default 100; --reloads 20 for a quick run)")
    parser.add_argument("--baseline-seconds", type=float, default=10.0, metavar="S",
                        help="length of one bare / hotgo-idle load round (default 10)")
    parser.add_argument("--rounds", type=int, default=5, help="quiet alternating bare / idle rounds wanted (default 5)")
    parser.add_argument("--load", choices=("auto", "wrk", "python"), default="auto",
                        help="load generator: wrk (-t2 -c32) if on PATH, else 32 Python keep-alive clients")
    parser.add_argument("--timeout", type=float, default=60.0, metavar="SECONDS",
                        help="give up on one reload after this long (default 60)")
    parser.add_argument("--no-pin", action="store_true",
                        help="do not give wrk its own CPU during the bare / idle rounds")
    parser.add_argument("--keep", action="store_true", help="keep the temporary copies (for debugging)")
    args = parser.parse_args()
    if args.reloads < 1 or args.rounds < 1 or args.baseline_seconds <= 0:
        parser.error("--reloads and --rounds must be at least 1, --baseline-seconds positive")
    tool = args.load
    if tool == "auto":
        tool = "wrk" if wrk_available() else "python"
    elif tool == "wrk" and not wrk_available():
        parser.error("wrk is not on PATH")
    pin = tool == "wrk" and can_pin() and not args.no_pin

    wait_for_sample()
    tmp = Path(tempfile.mkdtemp(prefix="hotgo-bench-handoff-"))
    nonce = f"{os.getpid()}-{int(time.time())}"
    rows: List[Row] = []
    begun = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        watched = copy_sample(tmp / "hotgo")
        plain = copy_sample(tmp / "plain")
        bin_dir = tmp / "bin"
        bin_dir.mkdir()

        set_version(plain, f"bare-{nonce}")
        bare_binary = bin_dir / "api-bare"
        log("building the bare binary")
        go_build(plain, bare_binary)
        bare_port, idle_port = free_port(), free_port()
        set_version(watched, f"idle-{nonce}")
        bare = Service(bare_binary, bare_port, plain)
        idle = Hotgo(watched, idle_port)
        try:
            idle.wait_summary(1, timeout=300)
            wait_for(lambda: served_version(bare_port), 30, f"bare service on :{bare_port}")
            wait_for(lambda: served_version(idle_port), 30, f"hotgo service on :{idle_port}")
            servers = {"bare": (bare_port, bare.proc.pid), "idle": (idle_port, idle.proc.pid)}
            bare_row, idle_row = baseline(tool, servers, args.baseline_seconds, args.rounds, pin)
        finally:
            idle.close()
            bare.stop(timeout=5)
            bare.close()
        rows += [bare_row, idle_row]
        for mode in ("inherit", "reuseport"):
            rows.append(hotgo_reloads(tool, watched, mode, args.reloads, nonce, args.timeout))
        log("kill-then-start")
        rows.append(kill_then_start(tool, plain, bin_dir, args.reloads, nonce, args.timeout))
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    base = rows[0].rps
    headers = ["row", "reloads", "failed requests", "failed probes", "s without service", "req/s",
               "vs bare", "edit → new version (median)", "of which go build", "other procs' CPU"]
    lines = []
    for row in rows:
        lines.append([
            row.name, row.reloads, row.failed, f"{row.failed_probes}/{row.probes}", f"{row.downtime:.3f}",
            f"{row.rps:.0f}", f"{row.rps / base * 100:.1f} %" if base else "n/a",
            ms(median(row.edit_to_served)) if row.edit_to_served else "-",
            ms(median(row.builds)) if row.builds else "-", f"{row.foreign * 100:.0f} %",
        ])
    loadgen = ("wrk -t2 -c32 (keep-alive)" if tool == "wrk"
               else "32 Python keep-alive client threads")
    print(f"handoff under load, samples/api, {args.reloads} reloads per reloading row, load: {loadgen}, "
          f"prober: fresh-connection GET every 5 ms, {go_version()}, {os.cpu_count()} CPUs, "
          f"total {time.monotonic() - begun:.0f}s, load average at start {load_before:.2f}")
    print()
    print(table(headers, lines))
    print()
    # Each idle round is compared with the bare round just before it: slow drifts of the machine cancel.
    ratios = [i / b * 100 for i, b in zip(rows[1].round_rps, rows[0].round_rps) if b]
    idle_tax = 100 - median(ratios) if ratios else float("nan")
    server_cpus, load_cpus = cpu_split(pin)
    placement = (f"wrk pinned to CPU {load_cpus}, service side to CPUs {server_cpus}" if pin
                 else "nothing pinned")
    print(f"hotgo idle throughput tax vs bare: {idle_tax:.1f} % (target < 2 %; median of {len(ratios)} paired "
          f"{args.baseline_seconds:g}s rounds; {placement})")
    print("idle/bare per pair: " + ", ".join(f"{r:.1f} %" for r in ratios))
    idle_seconds = args.baseline_seconds * len(rows[1].round_rps)
    print(f"CPU of the hotgo process itself during {idle_seconds:g}s of idle-row load: {rows[1].own_cpu * 1000:.0f} ms "
          f"= {rows[1].own_cpu / idle_seconds * 100:.2f} % of one core (requests never pass through hotgo: "
          "the service accepts on the shared socket itself)")
    noisy = [row.name for row in rows if row.foreign > NOISY]
    if noisy:
        print(f"WARNING: other processes used > {NOISY * 100:.0f} % of the CPU during: {'; '.join(noisy)} "
              "— req/s there is unreliable")
    print("failed requests = load-generator socket errors (connect+read+write+timeout) + non-2xx responses")
    for row in rows:
        for detail in row.details:
            print(f"- {row.name}: {detail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
